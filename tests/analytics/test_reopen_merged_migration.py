"""Migration 0013: an alert resolved "by itself" while its merged tickets' master was still being
handled is open again; one whose key an open alert holds, or that a person decided, stays."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from zhiwang.analytics import services
from zhiwang.analytics.models import Alert, AlertKind, AlertStatus
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _migrate():
    module = import_module("zhiwang.analytics.migrations.0013_reopen_alerts_of_merged_tickets")
    module.reopen(apps, SimpleNamespace(connection=connection))


def _wrongly_resolved(make_ticket, prefix="w") -> tuple[Alert, Ticket]:
    """A repeat-caller alert whose tickets were merged into an open master, resolved as the code
    before 0013 did it (all its tickets final)."""
    for i in range(4):
        make_ticket(external_id=f"{prefix}-{i}")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER, status=AlertStatus.OPEN)
    master = make_ticket(external_id=f"{prefix}-master", reporter_phone="13700000000")
    Ticket.objects.filter(pk__in=alert.ticket_ids).update(status="merged", merged_into=master)
    Alert.objects.filter(pk=alert.pk).update(
        status=AlertStatus.RESOLVED,
        decided_at=timezone.now(),
        detail={**alert.detail, "resolved": "tickets_closed"},
    )
    return alert, master


def test_an_alert_resolved_while_its_master_is_handled_is_open_again(make_ticket, frozen_now):
    alert, master = _wrongly_resolved(make_ticket)
    _migrate()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN and alert.decided_at is None
    assert "resolved" not in alert.detail
    assert alert.detail["resolution_withdrawn"]["was"] == "tickets_closed"
    # the detector resolves it again once the master is finished, as the code now does
    Ticket.objects.filter(pk=master.pk).update(status="closed")
    frozen_now(frozen_now.initial + timedelta(days=31))
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_a_closed_master_or_a_decision_or_a_held_key_keeps_it(make_ticket, frozen_now, nanshan_dispatcher):
    alert, master = _wrongly_resolved(make_ticket)
    Ticket.objects.filter(pk=master.pk).update(status="closed")
    _migrate()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED  # its master is finished: rightly resolved

    Ticket.objects.filter(pk=master.pk).update(status="accepted")
    Alert.objects.filter(pk=alert.pk).update(decided_by=nanshan_dispatcher)
    _migrate()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED  # a person's decision is not an automatic one

    Alert.objects.filter(pk=alert.pk).update(decided_by=None)
    Alert.objects.create(
        kind=alert.kind,
        key=alert.key,
        window_start=alert.window_start,
        window_end=alert.window_end,
        explanation="x",
    )  # raised again meanwhile: one open alert per key
    _migrate()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
