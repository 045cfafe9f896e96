"""The transition kit on a real table: legal, illegal, refused and concurrent transitions,
and a timeline that can only grow."""

from __future__ import annotations

import pytest
from django.db import connection, models
from django.test.utils import isolate_apps

from zhiwang.core.errors import Conflict, PermissionDeniedError, ServiceError
from zhiwang.core.workflow import AppendOnlyError, TimelineEntry, Workflow

from .workflow_models import PARCEL_WORKFLOW, Parcel, ParcelAction, ParcelEvent, ParcelStatus


@pytest.fixture(scope="module")
def workflow_tables(django_db_setup, django_db_blocker):
    """Create the test-only tables once for this module (see ``workflow_models``)."""
    with django_db_blocker.unblock():
        existing = set(connection.introspection.table_names())
        with connection.schema_editor() as editor:
            for model in (ParcelEvent, Parcel):  # left over from an interrupted --reuse-db run
                if model._meta.db_table in existing:
                    editor.delete_model(model)
            editor.create_model(Parcel)
            editor.create_model(ParcelEvent)
        yield
        with connection.schema_editor() as editor:
            editor.delete_model(ParcelEvent)
            editor.delete_model(Parcel)


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("workflow_tables")]


@pytest.fixture
def clerk(django_user_model):
    return django_user_model.objects.create_user(username="clerk", password="x")


@pytest.fixture
def supervisor(django_user_model):
    return django_user_model.objects.create_user(username="supervisor", password="x", is_staff=True)


@pytest.fixture
def parcel() -> Parcel:
    return Parcel.objects.create(recipient="张三")


def send(parcel, actor, **kwargs):
    return PARCEL_WORKFLOW.apply(parcel, ParcelAction.SEND, actor=actor, timeline_model=ParcelEvent, **kwargs)


# --- legal transitions -------------------------------------------------------------


def test_a_legal_transition_changes_the_state_and_appends_one_row(parcel, clerk):
    # when the clerk sends a new parcel
    entry = send(parcel, clerk, note="by courier", payload={"tracking": "SF123"})
    # then the state is stored and one timeline row says who did what, from which state to which
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.SENT
    assert list(parcel.events.values_list("action", "from_state", "to_state", "actor", "note")) == [
        ("send", "new", "sent", clerk.pk, "by courier")
    ]
    assert entry.payload == {"tracking": "SF123"}
    assert entry.at is not None


def test_other_changed_fields_are_saved_only_when_named(parcel, clerk):
    parcel.fragile = True
    parcel.recipient = "李四"
    send(parcel, clerk, update_fields=["fragile"])
    parcel.refresh_from_db()
    assert parcel.fragile is True
    assert parcel.recipient == "张三"


def test_the_system_acts_without_an_actor(parcel):
    entry = send(parcel, None)
    assert entry.actor is None


def test_allowed_actions():
    assert PARCEL_WORKFLOW.allowed_actions(ParcelStatus.NEW) == ["send"]
    assert PARCEL_WORKFLOW.allowed_actions(ParcelStatus.SENT) == ["deliver", "return"]
    assert PARCEL_WORKFLOW.allowed_actions(ParcelStatus.DELIVERED) == []


def test_allowed_actions_for_an_actor(parcel, clerk, supervisor):
    parcel.status = ParcelStatus.SENT
    assert PARCEL_WORKFLOW.allowed_actions(parcel.status, actor=clerk, obj=parcel) == ["deliver"]
    assert PARCEL_WORKFLOW.allowed_actions(parcel.status, actor=supervisor, obj=parcel) == [
        "deliver",
        "return",
    ]


# --- refused transitions -------------------------------------------------------------


def test_an_illegal_transition_names_the_state_and_action_and_writes_nothing(parcel, clerk):
    with pytest.raises(ServiceError) as caught:
        PARCEL_WORKFLOW.apply(parcel, ParcelAction.DELIVER, actor=clerk, timeline_model=ParcelEvent)
    assert caught.value.code == "workflow.illegal_transition"
    assert "Deliver" in caught.value.message and "New" in caught.value.message
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.NEW
    assert not parcel.events.exists()


def test_an_unknown_action_is_illegal(parcel, clerk):
    with pytest.raises(ServiceError) as caught:
        PARCEL_WORKFLOW.apply(parcel, "teleport", actor=clerk, timeline_model=ParcelEvent)
    assert caught.value.code == "workflow.illegal_transition"


def test_permission_is_checked(parcel, clerk, supervisor):
    send(parcel, clerk)
    with pytest.raises(PermissionDeniedError) as caught:
        PARCEL_WORKFLOW.apply(parcel, ParcelAction.RETURN, actor=clerk, timeline_model=ParcelEvent)
    assert caught.value.code == "workflow.permission_denied"
    PARCEL_WORKFLOW.apply(parcel, ParcelAction.RETURN, actor=supervisor, timeline_model=ParcelEvent)
    assert Parcel.objects.get(pk=parcel.pk).status == ParcelStatus.RETURNED


def test_guard_is_checked(clerk):
    nameless = Parcel.objects.create()
    with pytest.raises(ServiceError) as caught:
        send(nameless, clerk)
    assert caught.value.code == "workflow.guard_failed"
    assert not nameless.events.exists()


# --- optimistic concurrency ----------------------------------------------------------


def test_a_stale_copy_gets_a_conflict(parcel, clerk, supervisor):
    # given two people who opened the same parcel
    mine = Parcel.objects.get(pk=parcel.pk)
    theirs = Parcel.objects.get(pk=parcel.pk)
    # when they act one after the other
    send(theirs, supervisor)
    with pytest.raises(Conflict) as caught:
        send(mine, clerk)
    # then the second one learns somebody was first, and nothing of theirs is written
    assert caught.value.code == "workflow.conflict"
    assert caught.value.status == 409
    assert Parcel.objects.get(pk=parcel.pk).events.count() == 1


def test_a_deleted_record_is_not_found(clerk):
    gone = Parcel.objects.create(recipient="王五")
    copy = Parcel.objects.get(pk=gone.pk)
    gone.delete()
    with pytest.raises(ServiceError) as caught:
        send(copy, clerk)
    assert caught.value.code == "workflow.not_found"


# --- append-only timeline ------------------------------------------------------------


def test_a_stored_row_cannot_be_saved_again(parcel, clerk):
    entry = send(parcel, clerk)
    entry.note = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()


def test_rows_cannot_be_deleted(parcel, clerk):
    entry = send(parcel, clerk)
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        ParcelEvent.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError):
        ParcelEvent.objects.all().delete()


def test_rows_cannot_be_updated_in_bulk(parcel, clerk):
    entry = send(parcel, clerk)
    with pytest.raises(AppendOnlyError):
        ParcelEvent.objects.filter(pk=entry.pk).update(note="rewritten")
    with pytest.raises(AppendOnlyError):
        ParcelEvent.objects.bulk_update([entry], ["note"])
    with pytest.raises(AppendOnlyError):
        ParcelEvent.objects.update_or_create(pk=entry.pk, defaults={"note": "rewritten"})
    assert ParcelEvent.objects.get(pk=entry.pk).note == ""


def test_a_row_built_with_an_existing_pk_does_not_overwrite_it(parcel, clerk):
    from django.db import IntegrityError, transaction

    entry = send(parcel, clerk)
    forged = ParcelEvent(pk=entry.pk, parcel=parcel, action="forged", from_state="x", to_state="y")
    with pytest.raises(IntegrityError), transaction.atomic():
        forged.save()
    assert ParcelEvent.objects.get(pk=entry.pk).action == "send"


# --- declaring a workflow ------------------------------------------------------------


def test_a_table_with_unknown_states_or_actions_is_refused():
    with pytest.raises(ValueError):
        Workflow({("new", "send"): "lost"}, states=ParcelStatus)
    with pytest.raises(ValueError):
        Workflow({("new", "fly"): "sent"}, actions=ParcelAction)
    with pytest.raises(ValueError):
        Workflow({("new", "send"): "sent"}, guards={"deliver": lambda *a, **k: True})


@isolate_apps("tests")
def test_system_check_requires_protect_on_timeline_foreign_keys():
    class Box(models.Model):
        class Meta:
            app_label = "tests"

        def __str__(self) -> str:
            return "box"

    class BoxEvent(TimelineEntry):
        box = models.ForeignKey(Box, on_delete=models.CASCADE)

        class Meta(TimelineEntry.Meta):
            app_label = "tests"

    errors = [error for error in BoxEvent.check() if error.id == "core.E001"]
    assert [error.msg for error in errors] == [
        "BoxEvent.box must use on_delete=PROTECT: timeline rows are never deleted."
    ]
