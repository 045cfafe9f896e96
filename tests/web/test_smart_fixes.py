# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.test_classify_fixtures)
"""The smart-dispatch page: rollback only to a model once in use, stale runs, blind texts on the curve."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    RUBBISH,
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
from zhiwang.classifier import services as classifier_services
from zhiwang.classifier.models import ClassifierModel, ModelStatus
from zhiwang.tickets.models import TrainingRun, TrainingStatus
from zhiwang.tickets.services import ticket_recategorise
from zhiwang.tickets.services.smart import STALE_RUN_AFTER, run_failure_message

pytestmark = pytest.mark.django_db
PAGE = "/smart-dispatch/"


def test_roll_back_does_not_activate_a_rejected_candidate(client, admin_user, active_model, tiny_trained):
    rejected = classifier_services.model_register(name="category", directory=tiny_trained)
    classifier_services.model_retire(model=rejected)
    client.force_login(admin_user)
    response = client.post(reverse("web:smart_rollback"))
    assert response.status_code == 302
    rejected.refresh_from_db()
    assert rejected.status == ModelStatus.RETIRED
    assert ClassifierModel.objects.get(status=ModelStatus.ACTIVE) == active_model
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]


def test_retrain_gives_up_a_run_left_by_a_dead_worker(client, admin_user, django_capture_on_commit_callbacks):
    stale = TrainingRun.objects.create(status=TrainingStatus.RUNNING, progress=40, stage="cross-validate")
    TrainingRun.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - 2 * STALE_RUN_AFTER)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("web:smart_retrain"), follow=True)
    assert TrainingRun.objects.count() == 2
    stale.refresh_from_db()
    assert stale.status == TrainingStatus.FAILED
    html = response.content.decode()
    assert run_failure_message(stale) in html  # the page says why the old run stopped, in words


def test_the_curve_counts_a_corrected_text_the_model_knows_nothing_about(
    client, admin_user, active_model, make_ticket, nanshan_dispatcher
):
    for text in ("楼下垃圾堆了好几天没人清运", "hello, rubbish everywhere"):
        ticket_recategorise(ticket=make_ticket(description=text), category=RUBBISH, actor=nanshan_dispatcher)
    client.force_login(admin_user)
    response = client.get(PAGE, {"last": 100})
    assert response.status_code == 200
    curve = response.context["curve"]
    assert curve.total == 2 and curve.accuracy == 0.5  # the blind one is no answer: not right
