# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.test_classify_fixtures)
"""The smart-dispatch page after the administrator walkthrough: promoting a model that is not better
(or not compared) and rolling back take a confirmation checked on the server; the rollback is offered
only when there is an earlier model; the comparison says its verdict and figures; the threshold says
where it came from."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    ILLEGAL_BUILDING,
    RUBBISH,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
)
from tests.tickets.test_classify_fixtures import (  # noqa: F401 (fixtures)
    MANHOLE,
    NEIGHBOURS,
    active_model,
    corpus,
    model_dir,
    tiny_trained,
)
from zhiwang.classifier import services as classifier_services
from zhiwang.classifier.models import ClassifierModel, ModelStatus, Origin
from zhiwang.tickets.services import ticket_recategorise
from zhiwang.tickets.services.smart import classifier_promote
from zhiwang.web.smart import decisions

pytestmark = pytest.mark.django_db
PAGE = "/smart-dispatch/"
#: Ten corrections: the newest two are held back for the comparison (20 %).
CORRECTED = [
    ("楼下垃圾堆了好几天没人清运", RUBBISH),
    ("井盖丢了，很危险", MANHOLE),
    ("楼顶违建加建铁皮房", ILLEGAL_BUILDING),
    ("楼上邻居半夜噪音扰民", NEIGHBOURS),
    ("小区门口生活垃圾满地，请安排清运", RUBBISH),
] * 2


@pytest.fixture(scope="session")
def wrong_trained(tmp_path_factory):
    """A model that learned every category under the next one's code: wrong on every held-back ticket."""
    from zhiwang.classifier.ml import train

    rotate = {RUBBISH: MANHOLE, MANHOLE: ILLEGAL_BUILDING, ILLEGAL_BUILDING: NEIGHBOURS, NEIGHBOURS: RUBBISH}
    texts, labels = corpus()
    trained = train(texts, [rotate[label] for label in labels], cv=2)
    return trained.save(tmp_path_factory.mktemp("wrong-category") / "model")


def _correct(make_ticket, dispatcher):
    for text, code in CORRECTED:
        ticket_recategorise(ticket=make_ticket(description=text), category=code, actor=dispatcher)


def _register(directory) -> ClassifierModel:
    return classifier_services.model_register(name="category", directory=directory)


def _in(language: str, client, user):
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def _testid(html: str, testid: str) -> str:
    match = re.search(
        rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)</(p|span|section|table|label)>', html, re.S
    )
    assert match, f"no element {testid}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def _messages(response) -> list[tuple[str, str]]:
    """The messages the page shows after the redirect (posted with ``follow=True``: shown, so used)."""
    assert response.redirect_chain and response.redirect_chain[-1][0] == PAGE
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def _active() -> ClassifierModel:
    return ClassifierModel.objects.get(status=ModelStatus.ACTIVE)


# --- promoting ------------------------------------------------------------------------------------


def test_a_candidate_worse_on_held_back_tickets_is_promoted_only_once_confirmed(
    client, admin_user, active_model, wrong_trained, make_ticket, nanshan_dispatcher
):
    _correct(make_ticket, nanshan_dispatcher)
    worse = _register(wrong_trained)
    url = reverse("web:smart_promote", args=[worse.pk])

    # one click: the comparison runs, nothing changes, the confirmation repeats verdict and figures
    response = _in("en", client, admin_user).post(url)
    assert response.status_code == 200
    check = response.context["check"]
    assert check.verdict == decisions.NOT_BETTER and check.needs_confirmation
    assert check.candidate["accuracy"] < check.in_use["accuracy"]
    html = response.content.decode()
    assert "is not better than category model v1, the model in use" in _testid(html, "promote-verdict")
    accuracy = _testid(html, "figure-accuracy")
    assert f"{check.candidate['accuracy']:.4f}" in accuracy and f"{check.in_use['accuracy']:.4f}" in accuracy
    assert "I understand that this model is not better than the model in use" in html
    assert 'name="confirm"' in html and "required" in html
    worse.refresh_from_db()
    assert worse.status == ModelStatus.CANDIDATE and _active() == active_model

    # the box is checked on the server: a post without it promotes nothing
    again = client.post(url, {"against": str(active_model.pk)})
    assert again.status_code == 200 and again.context["check"].verdict == decisions.NOT_BETTER
    assert _active() == active_model

    # ticked, for the model in use the page showed: promoted
    done = client.post(url, {"confirm": "1", "against": str(active_model.pk)}, follow=True)
    assert _active() == worse
    assert _messages(done) == [("success", "The category model v2 is now in use.")]


def test_a_confirmation_given_against_another_model_in_use_is_asked_again(
    client, admin_user, active_model, wrong_trained, make_ticket, nanshan_dispatcher
):
    _correct(make_ticket, nanshan_dispatcher)
    worse = _register(wrong_trained)
    response = _in("en", client, admin_user).post(
        reverse("web:smart_promote", args=[worse.pk]), {"confirm": "1", "against": str(worse.pk + 100)}
    )
    assert response.status_code == 200 and response.context["check"].needs_confirmation
    assert _active() == active_model


def test_a_candidate_never_compared_is_promoted_only_once_confirmed(
    client, admin_user, active_model, tiny_trained
):
    candidate = _register(tiny_trained)  # no corrected tickets: nothing to compare on
    url = reverse("web:smart_promote", args=[candidate.pk])
    response = _in("en", client, admin_user).post(url)
    assert response.status_code == 200
    assert response.context["check"].verdict == decisions.NOT_COMPARED
    html = response.content.decode()
    verdict = _testid(html, "promote-verdict")
    assert "has not been compared with category model v1" in verdict
    assert "There are no corrected tickets to compare on yet" in verdict
    assert "I understand that this model has not been compared with the model in use" in html
    assert _active() == active_model
    client.post(url, {"confirm": "1", "against": str(active_model.pk)})
    assert _active() == candidate


def test_the_confirmation_speaks_the_reader_s_language(client, admin_user, active_model, tiny_trained):
    candidate = _register(tiny_trained)
    html = _in("zh-hans", client, admin_user).post(reverse("web:smart_promote", args=[candidate.pk]))
    with translation.override("zh-hans"):
        reason = gettext(
            "There are no corrected tickets to compare on yet: dispatchers' corrections are needed."
        )
    assert reason != "There are no corrected tickets to compare on yet: dispatchers' corrections are needed."
    assert reason in _testid(html.content.decode(), "promote-verdict")


def test_a_better_candidate_is_promoted_in_one_click(
    client, admin_user, model_dir, wrong_trained, tiny_trained, make_ticket, nanshan_dispatcher
):
    in_use = classifier_promote(model=_register(wrong_trained))
    _correct(make_ticket, nanshan_dispatcher)
    better = _register(tiny_trained)
    response = _in("en", client, admin_user).post(reverse("web:smart_promote", args=[better.pk]))
    assert response.status_code == 302
    assert _active() == better
    in_use.refresh_from_db()
    assert in_use.status == ModelStatus.RETIRED
    # the comparison made on the way is on record: the page shows both models' held-back figures
    better.refresh_from_db()
    assert better.metrics["held_back"]["count"] == 2 and in_use.metrics["held_back"]["count"] == 2


def test_with_no_model_in_use_a_candidate_is_promoted_in_one_click(
    client, admin_user, model_dir, tiny_trained
):
    candidate = _register(tiny_trained)
    response = _in("en", client, admin_user).post(reverse("web:smart_promote", args=[candidate.pk]))
    assert response.status_code == 302 and _active() == candidate


# --- rolling back ---------------------------------------------------------------------------------


def test_no_rollback_is_offered_without_an_earlier_model(client, admin_user, active_model):
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    assert 'data-testid="rollback"' not in html and reverse("web:smart_rollback") not in html
    assert _testid(html, "no-rollback") == "No earlier model to roll back to."


def test_a_rollback_names_the_model_that_comes_back_and_needs_the_box_ticked(
    client, admin_user, active_model, tiny_trained
):
    newer = classifier_promote(model=_register(tiny_trained))
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    assert "Roll back to category model v1" in html
    assert "Stop using category model v2 and bring back category model v1" in re.sub(r"\s+", " ", html)
    url = reverse("web:smart_rollback")

    refused = client.post(url, {"to": str(active_model.pk)}, follow=True)
    assert _messages(refused) == [
        ("error", "Tick the box to confirm the rollback to category model v1; nothing was changed.")
    ]
    assert _active() == newer

    stale = client.post(
        url, {"confirm": "1", "to": str(newer.pk)}, follow=True
    )  # the form named another model
    assert _messages(stale) == [
        (
            "error",
            "The models changed since the page was shown: a rollback now brings back category model v1. "
            "Nothing was changed; confirm again.",
        )
    ]
    assert _active() == newer

    done = client.post(url, {"confirm": "1", "to": str(active_model.pk)}, follow=True)
    assert _messages(done) == [("success", "Rolled back to category model v1.")]
    assert _active() == active_model


# --- comparing ------------------------------------------------------------------------------------


def test_the_comparison_says_its_verdict_and_figures(
    client, admin_user, active_model, wrong_trained, make_ticket, nanshan_dispatcher
):
    _correct(make_ticket, nanshan_dispatcher)
    worse = _register(wrong_trained)
    response = _in("en", client, admin_user).post(reverse("web:smart_compare", args=[worse.pk]), follow=True)
    [(level, text)] = _messages(response)
    worse.refresh_from_db()
    active_model.refresh_from_db()
    mine, theirs = worse.metrics["held_back"], active_model.metrics["held_back"]
    # not to promote: amber, never the green of a success
    assert level == "warning"
    assert text == (
        "category model v2 compared with the model in use on 2 held-back tickets: the candidate is not "
        f"better. Accuracy {mine['accuracy']:.4f} against {theirs['accuracy']:.4f}, macro-F1 "
        f"{mine['macro_f1']:.4f} against {theirs['macro_f1']:.4f}."
    )


def test_a_better_comparison_is_a_success(
    client, admin_user, model_dir, wrong_trained, tiny_trained, make_ticket, nanshan_dispatcher
):
    classifier_promote(model=_register(wrong_trained))
    _correct(make_ticket, nanshan_dispatcher)
    better = _register(tiny_trained)
    response = _in("en", client, admin_user).post(reverse("web:smart_compare", args=[better.pk]), follow=True)
    [(level, text)] = _messages(response)
    assert level == "success" and "the candidate is better." in text


# --- where the threshold came from ----------------------------------------------------------------


def _source(client, admin_user) -> str:
    return _testid(_in("en", client, admin_user).get(PAGE).content.decode(), "threshold-source")


def test_the_threshold_says_where_it_came_from(client, admin_user, active_model):
    metrics = active_model.metrics
    # the fixture set 0.5 by hand
    assert metrics.get("threshold") != 0.5
    assert (
        _source(client, admin_user)
        == "Set by an administrator after training (on this page or in the admin)."
    )
    # the one cross-validation measured
    classifier_services.model_set_threshold(model=active_model, threshold=metrics["threshold"])
    assert _source(client, admin_user).startswith("Measured by cross-validation when the model was trained")
    # a demo model: not cross-validated, its threshold read off held-back requests
    active_model.metrics = {
        **metrics,
        "threshold": None,
        "not_measured": "disabled",
        "origin": Origin.as_dict(Origin.DEMO),
        "held_back": {
            "count": 824,
            "threshold": 0.518,
            "target_precision": 0.98,
            "measured_at": "2026-11-27T10:50:00",
        },
    }
    active_model.threshold = 0.518
    active_model.save()
    assert _source(client, admin_user).startswith("Measured on 824 held-back examples (2026-11-27 18:50)")
    # a later comparison replaced those held-back figures: a person or the demo set it
    active_model.metrics["held_back"]["threshold"] = 0.7
    active_model.save()
    assert _source(client, admin_user).startswith(
        "Set after training: read off held-back requests when the demo"
    )
    # never automatically: nothing to explain
    classifier_services.model_set_threshold(model=active_model, threshold=None)
    assert 'data-testid="threshold-source"' not in _in("en", client, admin_user).get(PAGE).content.decode()
