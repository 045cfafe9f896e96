"""Alert membership at scale (review of 2026-11-27, findings 2 and 4).

- A decided alert raised before migration analytics 0008 kept only its first 200 tickets; the same
  incident found again with all of its tickets is no new evidence (it was raised again and its
  subscribers told again), one ticket more than it counted is.
- Topic-cluster matching and the new-evidence rule count shared tickets in the database: the
  decisions are those of the set comparison they replace, and a 5,000-ticket alert's membership
  is never read into Python.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.analytics.test_alert_membership import clone
from zhiwang.analytics import services
from zhiwang.analytics.finding import Finding
from zhiwang.analytics.models import AddressDay, Alert, AlertKind, AlertStatus, AlertTicket
from zhiwang.tickets.models import Notification

pytestmark = pytest.mark.django_db

#: The ids an alert kept before migration 0008.
OLD_CAP = 200


def as_0008_left_it(alert: Alert) -> None:
    """Cut ``alert``'s membership to its first 200 tickets, as migration 0008 copied them."""
    keep = sorted(alert.ticket_ids)[:OLD_CAP]
    AlertTicket.objects.filter(alert=alert).exclude(ticket_id__in=keep).delete()


def count_at_the_building(building, n: int) -> None:
    """Tickets written in bulk have no timeline: count them in the building's rollup by hand."""
    AddressDay.objects.filter(address_id=building.pk, day=timezone.localdate()).update(
        received=F("received") + n
    )


# --- 2. a decision made before 0008 holds -------------------------------------------------------------


def test_a_decided_incident_kept_to_200_tickets_stays_decided(
    make_ticket, nanshan_building, frozen_now, nanshan_dispatcher
):
    """A 300-ticket water cut, marked a false alarm 10 days ago by an alert that kept 200 of its
    tickets (migration 0008): found again with the same 300, nothing is raised and nobody is told;
    a 301st ticket brings it back, with all of its tickets, and from then on the plain rule holds."""
    services.alert_subscribe(
        user=nanshan_dispatcher, unit_code=nanshan_dispatcher.org_unit.code, division_code="440305000000"
    )
    first = [make_ticket(external_id=f"w-{i}", reporter_phone=f"1390000{i:04d}") for i in range(4)]
    clone(first[0], 296, "w")
    count_at_the_building(nanshan_building, 296)
    today = timezone.localdate()
    services.alerts_detect(today=today, kinds=["address_cluster"])
    alert = Alert.objects.get(kind=AlertKind.ADDRESS_CLUSTER)
    assert alert.observed == 300 and alert.ticket_count == 300
    Alert.objects.filter(pk=alert.pk).update(
        status=AlertStatus.FALSE, decided_at=timezone.now() - timedelta(days=10)
    )
    as_0008_left_it(alert)
    Notification.objects.all().delete()

    counts = services.alerts_detect(today=today, kinds=["address_cluster"])
    assert counts["suppressed"] == 1 and counts["created"] == 0
    assert Alert.objects.filter(kind=AlertKind.ADDRESS_CLUSTER).count() == 1
    assert not Notification.objects.filter(kind="analytics_alert").exists()

    late = make_ticket(external_id="w-late", reporter_phone="13900009999")
    counts = services.alerts_detect(today=today, kinds=["address_cluster"])
    assert counts["created"] == 1
    again = Alert.objects.get(kind=AlertKind.ADDRESS_CLUSTER, status=AlertStatus.OPEN)
    assert again.observed == 301 and again.ticket_count == 301 and late.pk in again.ticket_ids
    assert Notification.objects.filter(kind="analytics_alert", link__endswith=f"={again.pk}").exists()

    # the new alert keeps all of its tickets: decided, the same 301 are nothing new
    Alert.objects.filter(pk=again.pk).update(
        status=AlertStatus.HANDLED, decided_at=timezone.now() - timedelta(days=10)
    )
    counts = services.alerts_detect(today=today, kinds=["address_cluster"])
    assert counts["suppressed"] == 1 and not Alert.objects.filter(status=AlertStatus.OPEN).exists()


def _finding(alert: Alert, ticket_ids: list[int]) -> Finding:
    return Finding(
        kind=alert.kind,
        key=alert.key,
        explanation="",
        window_start=alert.window_start,
        window_end=alert.window_end,
        observed=len(ticket_ids),
        ticket_ids=ticket_ids,
    )


def test_a_legacy_alert_counts_what_it_did_not_keep(make_ticket, frozen_now):
    """The tickets of a finding outside a legacy alert's 200 may be the 100 it counted without
    keeping them: up to 100 outside is nothing new, 101 is; a kept ticket replaced by another is
    new too (it cannot be one of the 100). A full membership compares ticket by ticket."""
    first = make_ticket(external_id="l-0")
    everyone = sorted([first.pk, *clone(first, 300, "l")])  # 301 tickets of one caller
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER)
    assert alert.observed == 301
    same, more = everyone[:300], everyone
    AlertTicket.objects.filter(alert=alert, ticket_id=everyone[-1]).delete()
    Alert.objects.filter(pk=alert.pk).update(observed=300)
    alert.refresh_from_db()
    # the plain rule: 300 kept, 300 counted
    assert not services._new_evidence(_finding(alert, same), alert)
    assert services._new_evidence(_finding(alert, more), alert)
    as_0008_left_it(alert)
    assert alert.ticket_count == OLD_CAP and alert.observed == 300
    assert not services._new_evidence(_finding(alert, same), alert)
    assert not services._new_evidence(_finding(alert, same[:-1]), alert)  # one of the unkept left
    assert not services._new_evidence(_finding(alert, same[1:]), alert)  # one of the kept left
    assert services._new_evidence(_finding(alert, more), alert)  # 301 > 300
    assert services._new_evidence(_finding(alert, [*same[1:], everyone[-1]]), alert)  # kept one replaced


# --- 4. topic matching counts in the database, with the same decisions ---------------------------------


def _reference_open(finding: Finding, candidates: list[Alert]) -> Alert | None:
    """The rule before: the open alert sharing the most tickets, the oldest on a tie."""
    mine = set(finding.ticket_ids)
    best = max(
        ((len(mine & set(a.ticket_ids)), -a.pk, a) for a in candidates), default=None, key=lambda t: t[:2]
    )
    return best[2] if best is not None and best[0] > 0 else None


def _reference_closed(finding: Finding) -> Alert | None:
    """The rule before: the latest closed topic alert sharing any ticket."""
    mine = set(finding.ticket_ids)
    candidates = Alert.objects.filter(
        kind=AlertKind.TOPIC_CLUSTER,
        status__in=(AlertStatus.HANDLED, AlertStatus.FALSE, AlertStatus.RESOLVED),
        window_end__gt=finding.window_start,
    ).order_by("-decided_at", "-pk")
    return next((a for a in candidates if mine & set(a.ticket_ids)), None)


def _topic_alert(i: int, status: str, ticket_ids: list[int], *, decided_days_ago: int | None = None) -> Alert:
    now = timezone.now()
    alert = Alert.objects.create(
        kind=AlertKind.TOPIC_CLUSTER,
        key=f"topic:a-b-c:{i}",
        status=status,
        window_start=now - timedelta(days=3),
        window_end=now + timedelta(days=1),
        observed=len(ticket_ids),
        explanation="",
        decided_at=None if decided_days_ago is None else now - timedelta(days=decided_days_ago),
    )
    AlertTicket.objects.bulk_create([AlertTicket(alert=alert, ticket_id=pk) for pk in ticket_ids])
    return alert


def test_topic_matching_decides_as_the_set_comparison_did(make_ticket, frozen_now, monkeypatch):
    """Random open and closed topic alerts over 60 tickets, random findings: the alert a finding
    updates, the closed alert it is compared with and whether it is new evidence are those of
    the set comparison, also when the ids and the alerts are counted in many small chunks."""
    monkeypatch.setattr(services, "CHUNK", 4)
    first = make_ticket(external_id="t-0")
    pool = sorted([first.pk, *clone(first, 59, "t")])
    rng = random.Random(20261127)
    open_alerts, closed_alerts = [], []
    for i in range(9):
        open_alerts.append(_topic_alert(i, AlertStatus.OPEN, rng.sample(pool, rng.randint(1, 12))))
    for i in range(9, 18):
        status = rng.choice([AlertStatus.HANDLED, AlertStatus.FALSE, AlertStatus.RESOLVED])
        # some decided the same day: the order falls back on the id
        closed_alerts.append(
            _topic_alert(i, status, rng.sample(pool, rng.randint(1, 12)), decided_days_ago=rng.randint(1, 3))
        )
    now = timezone.now()
    checked = {"open": 0, "closed": 0, "new": 0}
    for _ in range(120):
        ids = rng.sample(pool, rng.randint(1, 25))
        finding = Finding(
            kind=AlertKind.TOPIC_CLUSTER,
            key="topic:a-b-c",
            explanation="",
            window_start=now - timedelta(days=3),
            window_end=now,
            observed=len(ids),
            ticket_ids=ids,
        )
        expected_open = _reference_open(finding, open_alerts)
        assert services._open_alert(finding) == expected_open
        expected_closed = _reference_closed(finding)
        assert services._last_closed(finding) == expected_closed
        checked["open"] += expected_open is not None
        if expected_closed is not None:
            checked["closed"] += 1
            was_new = bool(set(ids) - set(expected_closed.ticket_ids))
            assert services._new_evidence(finding, expected_closed) == was_new
            checked["new"] += was_new
    # the draw exercised both answers of each rule
    assert (
        0 < checked["open"] < 120 and 0 < checked["closed"] < 120 and 0 < checked["new"] < checked["closed"]
    )


def _alert_ticket_reads(queries) -> list[str]:
    table = AlertTicket._meta.db_table
    return [q["sql"] for q in queries if table in q["sql"]]


def test_a_5000_ticket_alert_is_matched_without_reading_its_tickets(make_ticket, frozen_now):
    """A group incident of 5,000 tickets: a topic finding about them finds its open alert, and once
    the alert is decided the same finding is no new evidence and one more ticket is, each by
    counting in the database (every statement on the membership table is a COUNT; the old code
    read all 5,000 rows per finding and per candidate alert)."""
    first = make_ticket(external_id="big-0")
    ids = sorted([first.pk, *clone(first, 5000, "big")])
    tickets, extra = ids[:5000], ids[5000]
    _topic_alert(0, AlertStatus.OPEN, ids[:3])  # a small alert sharing 3 of them
    big = _topic_alert(1, AlertStatus.OPEN, tickets)
    assert big.ticket_count == 5000
    now = timezone.now()
    finding = Finding(
        kind=AlertKind.TOPIC_CLUSTER,
        key="topic:a-b-c",
        explanation="",
        window_start=now - timedelta(days=3),
        window_end=now,
        observed=5001,
        ticket_ids=[*tickets, extra],
    )
    with CaptureQueriesContext(connection) as ctx:
        assert services._open_alert(finding) == big
    reads = _alert_ticket_reads(ctx.captured_queries)
    assert reads and all("COUNT(" in sql.upper() for sql in reads), reads[:1]

    Alert.objects.filter(status=AlertStatus.OPEN).update(
        status=AlertStatus.HANDLED, decided_at=now - timedelta(days=5)
    )
    big.refresh_from_db()
    same = replace(finding, ticket_ids=tickets, observed=5000)
    with CaptureQueriesContext(connection) as ctx:
        closed = services._last_closed(same)
        assert closed == big
        assert not services._new_evidence(same, closed)
        assert services._new_evidence(finding, closed)
    reads = _alert_ticket_reads(ctx.captured_queries)
    assert reads and all("COUNT(" in sql.upper() for sql in reads), reads[:1]
