# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.test_classify_fixtures)
"""Smart dispatch on the web: the administrator page, the suggestion panels, the ticket's "why"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    ILLEGAL_BUILDING,
    RUBBISH,
    SANITATION,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
)
from tests.tickets.test_classify_fixtures import (  # noqa: F401 (fixtures)
    active_model,
    model_dir,
    tiny_trained,
)
from zhiwang.classifier.models import ClassifierModel, ModelStatus
from zhiwang.tickets.models import CategoryCorrection, TrainingRun
from zhiwang.tickets.services import ticket_recategorise

pytestmark = pytest.mark.django_db
PAGE = "/smart-dispatch/"
RUBBISH_TEXT = "小区门口垃圾堆了好几天没人清运"


@pytest.fixture
def corrected(active_model, make_ticket, nanshan_dispatcher):
    """Six tickets whose category a dispatcher decided (the curve is measured on them)."""
    texts = ["楼下垃圾堆了好几天没人清运", "井盖丢了，很危险", "楼顶违建加建铁皮房"] * 2
    codes = [RUBBISH, "GI0201", ILLEGAL_BUILDING] * 2
    for text, code in zip(texts, codes, strict=True):
        ticket_recategorise(ticket=make_ticket(description=text), category=code, actor=nanshan_dispatcher)


@pytest.mark.parametrize("persona", ["nanshan_dispatcher", "hotline", "city_leader"])
def test_only_administrators_see_the_page(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(PAGE).status_code == 403
    assert client.post(reverse("web:smart_retrain")).status_code == 403
    assert not TrainingRun.objects.exists()


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]


def test_page_without_a_model(client, admin_user):
    client.force_login(admin_user)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert b'data-testid="no-model"' in response.content


def test_curve_table_and_threshold_sentence_on_the_corrected_tickets(client, admin_user, corrected):
    client.force_login(admin_user)
    response = client.get(PAGE, {"last": 100})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="curve-table"' in html and "echarts.min.js" in html
    assert response.context["curve"].total == 6
    at = response.context["curve"].at_threshold
    assert at is not None and 0 <= at.coverage <= 1 and at.current
    assert 'data-testid="at-threshold"' in html


def test_set_threshold_and_bad_threshold(client, admin_user, active_model):
    client.force_login(admin_user)
    response = client.post(reverse("web:smart_threshold"), {"threshold": "0.8"})
    assert response.status_code == 302
    active_model.refresh_from_db()
    assert active_model.threshold == 0.8
    for bad in ("1.5", "abc"):
        response = client.post(reverse("web:smart_threshold"), {"threshold": bad}, follow=True)
        assert [m.level_tag for m in response.context["messages"]][-1] == "error"
    active_model.refresh_from_db()
    assert active_model.threshold == 0.8  # refused, nothing changed
    client.post(reverse("web:smart_threshold"), {"threshold": ""})
    active_model.refresh_from_db()
    assert active_model.threshold is None  # never automatically


def test_retrain_button_queues_one_run(client, admin_user, django_capture_on_commit_callbacks):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("web:smart_retrain"))
        client.post(reverse("web:smart_retrain"))
    run = TrainingRun.objects.get()
    assert run.requested_by == admin_user
    progress = client.get(reverse("web:smart_run", args=[run.pk]))
    assert progress.status_code == 200 and b"hx-trigger" in progress.content  # polled while queued


def test_promote_and_roll_back(client, admin_user, active_model, tiny_trained):
    from zhiwang.classifier import services as classifier_services

    candidate = classifier_services.model_register(name="category", directory=tiny_trained)
    client.force_login(admin_user)
    # not compared (no corrected tickets): promoted only with the confirmation ticked
    client.post(reverse("web:smart_promote", args=[candidate.pk]))
    candidate.refresh_from_db()
    assert candidate.status != ModelStatus.ACTIVE
    client.post(
        reverse("web:smart_promote", args=[candidate.pk]), {"confirm": "1", "against": str(active_model.pk)}
    )
    candidate.refresh_from_db()
    assert candidate.status == ModelStatus.ACTIVE
    client.post(reverse("web:smart_rollback"), {"confirm": "1", "to": str(active_model.pk)})
    assert ClassifierModel.objects.get(status=ModelStatus.ACTIVE) == active_model


def test_compare_on_held_back_corrections(client, admin_user, corrected, tiny_trained):
    from zhiwang.classifier import services as classifier_services

    candidate = classifier_services.model_register(name="category", directory=tiny_trained)
    client.force_login(admin_user)
    client.post(reverse("web:smart_compare", args=[candidate.pk]))
    candidate.refresh_from_db()
    assert candidate.metrics["held_back"]["count"] >= 1


# --- the intake and citizen panels, the ticket's "why" ---------------------------------------------


def test_intake_panel_shows_model_suggestions_with_confidence(client, hotline, active_model):
    client.force_login(hotline)
    response = client.post(
        reverse("web:ticket_suggest_panel"), {"description": RUBBISH_TEXT, "kind": "complaint"}
    )
    html = response.content.decode()
    assert f'data-pick-category="{RUBBISH}"' in html and 'data-source="model"' in html
    assert 'data-testid="confidence"' in html


def test_citizen_panel_is_public_and_works_without_a_model(client):
    response = client.post(
        reverse("web:ticket_report_suggest_panel"), {"description": RUBBISH_TEXT, "kind": "complaint"}
    )
    assert response.status_code == 200
    assert f'data-pick-category="{RUBBISH}"' in response.content.decode()  # keywords


def test_detail_and_queue_show_the_classifiers_choices(client, nanshan_dispatcher, active_model, make_ticket):
    ticket = make_ticket(description=RUBBISH_TEXT)
    client.force_login(nanshan_dispatcher)
    html = client.get(reverse("web:ticket_detail", args=[ticket.number])).content.decode()
    assert (
        'data-testid="classification"' in html
        and "分类模型 第 1 版" in html
        and "category v1" not in html
        and "暴露垃圾" in html
    )
    assert ticket.route_explanation in html
    queue = client.get(reverse("web:dispatch_queue")).content.decode()
    assert 'data-testid="classification-brief"' in queue


def test_recategorise_from_the_ticket_page(client, nanshan_dispatcher, luohu_dispatcher, make_ticket):
    ticket = make_ticket()
    url = reverse("web:ticket_act", args=[ticket.number, "recategorise"])
    body = {"recategorise-category": RUBBISH, "recategorise-expected_version": ticket.version}
    client.force_login(luohu_dispatcher)
    assert client.post(url, body).status_code in (403, 404)
    client.force_login(nanshan_dispatcher)
    client.post(url, body)
    ticket.refresh_from_db()
    assert ticket.category.code == RUBBISH
    assert CategoryCorrection.objects.get().from_category.code == SANITATION
