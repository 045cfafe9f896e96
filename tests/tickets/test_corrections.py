"""Corrections as training data: recategorise, confirmation at dispatch, retraining, drift."""

# ruff: noqa: F811 (pytest fixtures imported from test_classify_fixtures)
from __future__ import annotations

import itertools

import pytest

from tests.tickets.conftest import ILLEGAL_BUILDING, RUBBISH, SANITATION, last_event
from tests.tickets.test_classify_fixtures import (  # noqa: F401 (fixtures)
    TEMPLATES,
    active_model,
    corpus,
    model_dir,
    tiny_trained,
)
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.core.models import AdminNotice
from zhiwang.tickets.models import (
    CategoryCorrection,
    CategorySource,
    Ticket,
    TicketStatus,
    TrainingRun,
    TrainingStatus,
)
from zhiwang.tickets.services import ticket_dispatch, ticket_recategorise, ticket_submit
from zhiwang.tickets.services.smart import (
    DRIFT_NOTICE_KEY,
    classifier_drift_check,
    classifier_retrain,
    classifier_retrain_request,
    labelled_history,
)

pytestmark = pytest.mark.django_db


_ids = itertools.count(1)


def _free_text(building, actor, text="小区门口垃圾堆了好几天没人清运"):
    n = [next(_ids)]
    return ticket_submit(
        channel="department",
        kind="complaint",
        description=text,
        address_code=building.code,
        external_id=f"dept-{n[0]}",
        actor=actor,
    ).ticket


def test_recategorise_records_the_correction_reroutes_and_writes_a_timeline_row(
    active_model, make_ticket, nanshan_dispatcher
):
    ticket = make_ticket(description="小区门口垃圾堆了好几天没人清运")  # operator chose 环境卫生
    before_unit = ticket.suggested_unit
    ticket_recategorise(ticket=ticket, category=ILLEGAL_BUILDING, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    assert ticket.category.code == ILLEGAL_BUILDING
    assert ticket.category_source == CategorySource.DISPATCHER
    # pending: routed again (illegal structures in Nanshan → the urban-management bureau)
    assert ticket.suggested_unit != before_unit and "违法搭建" in ticket.route_explanation
    row = last_event(ticket)
    assert (row.action, row.from_state, row.to_state) == (
        "recategorise",
        "pending_dispatch",
        "pending_dispatch",
    )
    assert row.payload["from_category"] == SANITATION and row.payload["to_category"] == ILLEGAL_BUILDING
    correction = CategoryCorrection.objects.filter(source="recategorise").get()
    assert correction.from_category.code == SANITATION
    assert correction.final_category.code == ILLEGAL_BUILDING
    assert correction.suggested_label == RUBBISH and correction.model == "category v1"
    assert correction.actor == nanshan_dispatcher and correction.text.startswith("小区门口垃圾")


def test_recategorise_outside_the_jurisdiction_is_refused_without_trace(make_ticket, luohu_dispatcher):
    ticket = make_ticket()
    with pytest.raises(PermissionDeniedError):
        ticket_recategorise(ticket=ticket, category=RUBBISH, actor=luohu_dispatcher)
    ticket.refresh_from_db()
    assert ticket.category.code == SANITATION and ticket.version == 1
    assert not CategoryCorrection.objects.exists()


@pytest.mark.parametrize(
    ("category", "code"),
    [
        ("GI01", "tickets.category_not_leaf"),
        ("nope", "tickets.category_unknown"),
        (SANITATION, "tickets.same_category"),
    ],
)
def test_recategorise_bad_input(make_ticket, nanshan_dispatcher, category, code):
    ticket = make_ticket()
    with pytest.raises(ServiceError) as exc:
        ticket_recategorise(ticket=ticket, category=category, actor=nanshan_dispatcher)
    assert exc.value.code == code and exc.value.field == "category"
    assert not CategoryCorrection.objects.exists()
    assert ticket.events.count() == 1


def test_dispatching_an_unchecked_category_confirms_it(
    active_model, nanshan_building, hotline, nanshan_dispatcher
):
    from zhiwang.tickets.services.smart import classifier_set_threshold

    classifier_set_threshold(threshold=0.999)  # the model's category is only a guess
    ticket = _free_text(nanshan_building, hotline)
    assert ticket.category_source == CategorySource.MODEL_UNSURE
    ticket_dispatch(ticket=ticket, unit=None, actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    assert ticket.category_source == CategorySource.DISPATCHER
    confirmation = CategoryCorrection.objects.get(ticket=ticket)
    assert confirmation.source == "dispatch" and confirmation.agreed is True


def test_dispatching_a_category_people_chose_records_nothing(make_ticket, nanshan_dispatcher, sub_handler):
    ticket_dispatch(ticket=make_ticket(), unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    assert not CategoryCorrection.objects.exists()


def test_labelled_history_holds_back_the_newest_corrections(active_model, make_ticket, nanshan_dispatcher):
    tickets = [make_ticket(description=f"小区门口垃圾堆了好几天没人清运{i}号楼") for i in range(5)]
    for ticket in tickets:
        ticket_recategorise(ticket=ticket, category=RUBBISH, actor=nanshan_dispatcher)
    history = labelled_history(hold_back=2)
    assert len(history.held_texts) == 2 and history.held_labels == [RUBBISH, RUBBISH]
    # each ticket once, with its latest decision (the intake choice was overruled)
    assert history.labels.count(RUBBISH) == 3 and SANITATION not in history.labels
    assert "4号楼" in history.held_texts[0]  # newest first


def test_retrain_from_the_corrected_history(
    active_model, make_ticket, nanshan_dispatcher, django_capture_on_commit_callbacks
):
    texts, labels = corpus(seed=11)
    for text, label in list(zip(texts, labels, strict=True))[::2]:
        ticket_recategorise(ticket=make_ticket(description=text), category=label, actor=nanshan_dispatcher)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run, created = classifier_retrain_request(actor=nanshan_dispatcher)
        again, created_again = classifier_retrain_request(actor=nanshan_dispatcher)
    assert created and not created_again and again == run  # one at a time
    assert len(callbacks) == 1
    run = classifier_retrain(run_id=run.pk, cv=2)
    run.refresh_from_db()
    assert run.status == TrainingStatus.DONE and run.progress == 100
    assert run.examples > 0 and run.held_back > 0
    assert run.model.status == "candidate" and run.model.version == 2
    assert set(run.model.labels) == set(TEMPLATES)
    assert run.comparison["candidate"]["count"] == run.held_back
    assert run.comparison["current"] is not None  # measured against the active v1


def test_retrain_with_too_little_history_fails_on_the_run(db):
    run = TrainingRun.objects.create()
    with pytest.raises(ServiceError):
        classifier_retrain(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED and run.error


def test_drift_check_raises_and_resolves_the_admin_notice(active_model, nanshan_building, hotline):
    assert classifier_drift_check(min_recent=3).warning is False  # too little data: no warning
    for _i in range(4):
        ticket = _free_text(nanshan_building, hotline, text="请问这里的事情应该找哪个部门处理呢")
        assert ticket.classification["model"] == "category v1"
    Ticket.objects.filter(classification__model="category v1").update(
        classification={"model": "category v1", "choices": [[RUBBISH, 0.2]], "decision": "queue"}
    )
    result = classifier_drift_check(min_recent=3)
    assert result.warning and result.recent_count == 4
    notice = AdminNotice.objects.get(key=DRIFT_NOTICE_KEY)
    assert notice.is_open and (notice.params["name"], notice.params["version"]) == ("category", 1)
    Ticket.objects.filter(classification__model="category v1").update(
        classification={"model": "category v1", "choices": [[RUBBISH, 0.99]], "decision": "auto"}
    )
    assert classifier_drift_check(min_recent=3).warning is False
    notice.refresh_from_db()
    assert not notice.is_open


def test_no_model_no_drift_notice(db):
    assert classifier_drift_check() is None
    assert not AdminNotice.objects.filter(key=DRIFT_NOTICE_KEY, resolved_at__isnull=True).exists()


def test_pending_status_unchanged_by_recategorise(make_ticket, nanshan_dispatcher):
    ticket = make_ticket()
    ticket_recategorise(ticket=ticket, category=RUBBISH, actor=nanshan_dispatcher, note="其实是暴露垃圾")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_DISPATCH and last_event(ticket).note == "其实是暴露垃圾"


def test_agreement_leaves_out_categories_the_model_never_learned(
    active_model, make_ticket, nanshan_dispatcher
):
    """A catch-all "其他" leaf left to people (or a category added since training) cannot be the
    model's choice: counting it would read as drift, against a reference that never held it."""
    from django.utils import timezone

    from zhiwang.tickets.models import Category, CategoryCorrection, CorrectionSource
    from zhiwang.tickets.services.smart import recent_agreement

    known = Category.objects.get(code=RUBBISH)
    unknown = Category.objects.exclude(code__in=active_model.labels).filter(children__isnull=True).first()
    assert known.code in active_model.labels and unknown is not None
    for final in (known, unknown, unknown):
        CategoryCorrection.objects.create(
            ticket=make_ticket(), text="某处垃圾", suggested_label=RUBBISH, model="category v1",
            final_category=final, source=CorrectionSource.INTAKE, actor=nanshan_dispatcher, at=timezone.now(),
        )  # fmt: skip
    assert recent_agreement(active_model) == [True]


def test_confidence_leaves_out_tickets_filed_under_categories_the_model_never_learned(
    active_model, make_ticket
):
    from zhiwang.tickets.models import Category
    from zhiwang.tickets.services.smart import recent_confidences

    unknown = Category.objects.exclude(code__in=active_model.labels).filter(children__isnull=True).first()
    learned, other = make_ticket(), make_ticket()
    Ticket.objects.filter(pk=learned.pk).update(
        category=Category.objects.get(code=RUBBISH),
        classification={"model": "category v1", "choices": [[RUBBISH, 0.9]], "decision": "auto"},
    )
    Ticket.objects.filter(pk=other.pk).update(
        category=unknown,
        classification={"model": "category v1", "choices": [[RUBBISH, 0.3]], "decision": "queue"},
    )
    assert recent_confidences(active_model) == [0.9]
