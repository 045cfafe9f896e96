"""A tiny test-only model with a workflow, to exercise ``core.workflow`` on a real table.

Why this way: the models are declared with ``app_label = "core_tests"``, an app that is
not installed. Django registers them (foreign keys to ``accounts.User`` resolve) but
leaves them out of ``apps.get_models()``, so ``makemigrations``, system checks and
test-database flushes never see them and nothing test-only ships in ``zhiwang``. The
``workflow_tables`` fixture creates their tables in the test database with the schema
editor (outside any transaction, which SQLite requires) and drops them afterwards.
"""

from __future__ import annotations

from django.db import models

from zhiwang.core.workflow import TimelineEntry, Workflow


class ParcelStatus(models.TextChoices):
    NEW = "new", "New"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    RETURNED = "returned", "Returned"


class ParcelAction(models.TextChoices):
    SEND = "send", "Send"
    DELIVER = "deliver", "Deliver"
    RETURN = "return", "Return"


class Parcel(models.Model):
    status = models.CharField(max_length=16, choices=ParcelStatus.choices, default=ParcelStatus.NEW)
    recipient = models.CharField(max_length=32, blank=True)
    fragile = models.BooleanField(default=False)

    class Meta:
        app_label = "core_tests"
        db_table = "core_tests_parcel"

    def __str__(self) -> str:
        return f"parcel {self.pk} ({self.status})"


class ParcelEvent(TimelineEntry):
    parcel = models.ForeignKey(Parcel, on_delete=models.PROTECT, related_name="events")

    class Meta(TimelineEntry.Meta):
        app_label = "core_tests"
        db_table = "core_tests_parcelevent"


def _may_return(actor, parcel) -> bool:
    return actor is not None and actor.is_staff


def _needs_a_recipient(parcel, *, actor, payload) -> bool:
    return bool(parcel.recipient)


PARCEL_WORKFLOW = Workflow(
    {
        (ParcelStatus.NEW, ParcelAction.SEND): ParcelStatus.SENT,
        (ParcelStatus.SENT, ParcelAction.DELIVER): ParcelStatus.DELIVERED,
        (ParcelStatus.SENT, ParcelAction.RETURN): ParcelStatus.RETURNED,
    },
    states=ParcelStatus,
    actions=ParcelAction,
    permissions={ParcelAction.RETURN: _may_return},
    guards={ParcelAction.SEND: _needs_a_recipient},
)
