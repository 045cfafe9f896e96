"""Writes of the analytics app: alerts (raise, decide, subscribe), the governance index, reports.

Rollup writes live in ``rollups/`` (they follow the ticket timeline, not a user's request).
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics import alerts as detectors
from zhiwang.analytics import surges
from zhiwang.analytics.finding import explain, local_midnight
from zhiwang.analytics.models import (
    Alert,
    AlertKind,
    AlertStatus,
    AlertSubscription,
    AlertTicket,
    Report,
    ReportStatus,
)
from zhiwang.analytics.models.alerts import DECIDED_STATUSES
from zhiwang.analytics.selectors import require_analyst
from zhiwang.analytics.selectors.place import FIRST_DAY, LAST_DAY
from zhiwang.core.errors import NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.masking import mask_data, mask_text
from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import Division
from zhiwang.tickets.models import OPEN_STATUSES, Notification, Ticket, TicketStatus
from zhiwang.tickets.notify import city_language, written

logger = logging.getLogger(__name__)

#: The largest id a database can hold (a larger one names nothing).
MAX_ID = 2**63 - 1

#: Ids per statement when alert memberships are read or written in bulk (within every backend's
#: limit on a statement's parameters).
CHUNK = 500

# --- alerts -----------------------------------------------------------------------------------


def _surge_tickets(finding: detectors.Finding) -> list[int]:
    qs = Ticket.objects.filter(
        category_id=finding.category_id,
        received_at__gte=finding.window_start,
        received_at__lt=finding.window_end,
    )
    qs = (
        qs.filter(grid_id=finding.grid_id) if finding.grid_id else qs.filter(community_id=finding.division_id)
    )
    return list(qs.order_by("pk").values_list("pk", flat=True))


def _ticket_span(ticket_ids: list[int]) -> tuple[date, date] | None:
    """The first and last local day on which ``ticket_ids`` were received (``None``: no ticket);
    one ``MIN``/``MAX`` per ``CHUNK`` tickets, the tickets themselves never read."""
    first = last = None
    for chunk in _chunks(sorted(set(ticket_ids))):
        span = Ticket.objects.filter(pk__in=chunk).aggregate(
            first=Min("received_at"), last=Max("received_at")
        )
        if span["first"] is not None:
            first = span["first"] if first is None else min(first, span["first"])
            last = span["last"] if last is None else max(last, span["last"])
    if first is None:
        return None
    return timezone.localdate(first), timezone.localdate(last)


def _chunks(ids: list[int]):
    for first in range(0, len(ids), CHUNK):
        yield ids[first : first + CHUNK]


def _members(alert_ids) -> dict[int, set[int]]:
    """The tickets each of ``alert_ids`` counted (``AlertTicket``; one query per ``CHUNK`` alerts)."""
    found: dict[int, set[int]] = {pk: set() for pk in alert_ids}
    for chunk in _chunks(sorted(found)):
        for alert_id, ticket_id in AlertTicket.objects.filter(alert_id__in=chunk).values_list(
            "alert_id", "ticket_id"
        ):
            found[alert_id].add(ticket_id)
    return found


def _shared(alert_ids, ticket_ids) -> dict[int, int]:
    """How many of ``ticket_ids`` each of ``alert_ids`` counted, counted in the database (one
    ``COUNT … GROUP BY alert`` per ``CHUNK`` alerts × ``CHUNK`` tickets): the memberships
    themselves are never read, however many tickets an alert has."""
    shared: dict[int, int] = dict.fromkeys(alert_ids, 0)
    tickets = sorted(set(ticket_ids))
    for alerts in _chunks(sorted(shared)):
        for chunk in _chunks(tickets):
            rows = (
                AlertTicket.objects.filter(alert_id__in=alerts, ticket_id__in=chunk)
                .order_by()
                .values("alert_id")
                .annotate(n=Count("*"))
                .values_list("alert_id", "n")
            )
            for alert_id, n in rows:
                shared[alert_id] += n
    return shared


def _write_members(alert: Alert, ticket_ids: list[int], *, have: set[int] = frozenset()) -> None:
    """Add to ``alert``'s membership the tickets of ``ticket_ids`` it does not hold yet (``have``:
    its rows as read, empty for a new alert), in bulk. Membership only grows: a run that no longer
    counts a ticket (its window moved on, a past day run again) leaves it listed, and an alert
    found again with the same tickets writes nothing."""
    added = sorted(set(ticket_ids) - set(have))
    if added:
        AlertTicket.objects.bulk_create(
            [AlertTicket(alert=alert, ticket_id=pk) for pk in added], batch_size=CHUNK, ignore_conflicts=True
        )


def _subscribers(division_id: int | None, kind: str) -> list[int]:
    """Units subscribed to a division that contains ``division_id`` (city-wide alerts: city subscriptions)."""
    if division_id is None:
        subs = AlertSubscription.objects.filter(division__level="city")
    else:
        division = Division.objects.filter(pk=division_id).only("code").first()
        if division is None:
            return []
        prefixes = {division.code[:n].ljust(12, "0") for n in (4, 6, 9, 12)}
        subs = AlertSubscription.objects.filter(division__code__in=prefixes)
    return sorted({s.unit_id for s in subs if not s.kinds or kind in s.kinds})


def _alert_readers(unit_ids) -> QuerySet:
    """The active members of ``unit_ids`` who may open the alerts page (``is_analyst``; the rule
    the subscription form's unit list follows too, ``selectors.alerts.alert_readers``)."""
    from zhiwang.analytics.selectors.alerts import alert_readers

    return alert_readers(unit_ids)


def _open_alert(finding: detectors.Finding) -> Alert | None:
    """The open alert ``finding`` updates: the one with its key; for a topic, the open topic alert
    sharing the most tickets with it (the words alone name no place: a cluster elsewhere with
    the same words is another alert, ``_topic_key``)."""
    if finding.kind != AlertKind.TOPIC_CLUSTER or not finding.ticket_ids:
        return Alert.objects.select_for_update().filter(key=finding.key, status=AlertStatus.OPEN).first()
    candidates = list(
        Alert.objects.select_for_update().filter(
            kind=AlertKind.TOPIC_CLUSTER, status=AlertStatus.OPEN, window_end__gt=finding.window_start
        )
    )
    shared = _shared([a.pk for a in candidates], finding.ticket_ids)
    best = max(((shared[a.pk], -a.pk, a) for a in candidates), default=None, key=lambda t: t[:2])
    return best[2] if best is not None and best[0] > 0 else None


def _topic_key(finding: detectors.Finding) -> str:
    """A new topic alert's key: its words, and its first ticket when an open alert about other
    tickets has the same words (two clusters in two places are two alerts; an open alert keeps
    its key as its tickets change)."""
    if not Alert.objects.filter(key=finding.key, status=AlertStatus.OPEN).exists():
        return finding.key
    return f"{finding.key[:140]}:{min(finding.ticket_ids, default=0)}"


def _last_closed(finding: detectors.Finding) -> Alert | None:
    """The latest decided or resolved alert about what ``finding`` is about: the same key; for a
    topic, a decided topic alert sharing tickets with it (whatever its words)."""
    closed = Alert.objects.filter(status__in=(*DECIDED_STATUSES, AlertStatus.RESOLVED))
    if finding.kind != AlertKind.TOPIC_CLUSTER or not finding.ticket_ids:
        return closed.filter(key=finding.key).order_by("-decided_at", "-pk").first()
    candidates = list(
        closed.filter(kind=AlertKind.TOPIC_CLUSTER, window_end__gt=finding.window_start).order_by(
            "-decided_at", "-pk"
        )
    )
    shared = _shared([a.pk for a in candidates], finding.ticket_ids)
    return next((a for a in candidates if shared[a.pk]), None)


def _new_evidence(finding: detectors.Finding, closed: Alert) -> bool:
    """Whether ``finding`` holds something the closed alert did not: a ticket it did not count
    (its whole membership, ``AlertTicket``, compared in the database; a surge: days after its
    window; a reopened ticket: a further reopening).

    An alert whose membership is smaller than its count (``observed``) knows only part of its
    tickets: one raised before migration 0008 kept its first 200 ids. As many of the finding's
    tickets outside its membership as it counted without keeping (``observed`` minus its rows)
    may be ones it counted, so only more than that is new evidence: the same 300 tickets found
    again are not, a 301st is, and so is a ticket that takes a kept one's place. An alert raised
    or updated since keeps all of its tickets, and every ticket outside them is new.
    """
    if finding.kind == AlertKind.SURGE:
        return finding.window_start >= closed.window_end
    if finding.kind == AlertKind.REPEAT_REOPEN:
        return finding.observed > closed.observed
    mine = set(finding.ticket_ids)
    outside = len(mine) - _shared([closed.pk], mine)[closed.pk]
    if outside <= 0:
        return False
    unkept = closed.observed - closed.memberships.count()
    return outside > max(unkept, 0)


def _keep_earlier_tickets(finding: detectors.Finding, current: Alert, have: set[int]) -> None:
    """Make ``finding``, which updates the open alert ``current``, keep the tickets ``current``
    counted (``have``) that the finding no longer counts: its tickets become the union and its
    count grows by as many (the sentence's count too; its days follow in ``alert_raise`` from the
    union's span). A repeated caller or a topic keeps a place holding them all (the finest
    division containing both). A repeatedly reopened ticket's alert counts reopenings, not
    tickets, and its one ticket is always the same."""
    earlier = have - set(finding.ticket_ids)
    if not earlier or finding.kind == AlertKind.REPEAT_REOPEN:
        return
    finding.ticket_ids = sorted(have | set(finding.ticket_ids))
    finding.observed += len(earlier)
    params = finding.detail.get("explain")
    if isinstance(params, dict) and "observed" in params:
        params["observed"] = finding.observed
    if finding.kind in (AlertKind.TOPIC_CLUSTER, AlertKind.REPEAT_CALLER) and (
        current.division_id != finding.division_id
    ):
        finding.division_id = detectors._common_division([current.division_id, finding.division_id])


@transaction.atomic
def alert_raise(*, finding: detectors.Finding, cooldown_days: int = 3) -> tuple[Alert | None, bool]:
    """Record a finding: update the open alert about the same thing, or raise a new one.

    De-duplication: one open alert per key (a topic: per set of tickets, ``_open_alert``).
    A decision holds for the evidence it was made on: after an alert was marked handled or a
    false alarm (or resolved by itself), a finding about the same thing raises a new alert only
    with new evidence (``_new_evidence``: a ticket the closed alert did not count; a surge: a
    window starting after the closed alert's), and never within ``cooldown_days`` of a person's
    decision. Returns ``(alert, created)``; ``(None, False)`` when suppressed. New alerts notify
    the subscribed units that can open them; an open alert whose finding moved to another place
    follows it and notifies the units newly responsible.

    Alerts and their notifications are read by many people: the key, the explanation and every
    text of the detail are masked here (``mask_text``), whatever the detector wrote. Masking is
    deterministic, so the same series keeps the same key. The stored explanation is written in
    the city's language; pages and the API render ``Alert.explanation_text`` in the reader's.

    The alert knows every ticket it counted, however many: its membership rows (``AlertTicket``),
    written in bulk for the alert created or updated (``_write_members``). Membership only grows:
    an open alert found again keeps the tickets earlier runs counted that this one does not (a
    window moved on, a past day run again), and its count, sentence, window and place describe
    them all (``_keep_earlier_tickets``); so a decided alert lists every ticket it was decided
    on, and running past days again finds nothing new in them.
    """
    finding.key = mask_text(finding.key)[:160]
    finding.explanation = mask_text(finding.explanation)
    finding.detail = mask_data(finding.detail)
    current = _open_alert(finding)
    if current is not None and (
        current.window_start < finding.window_start or current.window_end > finding.window_end
    ):
        # An open alert's window only widens (never narrowed by a past day run again, nor moved
        # on by a later window): it keeps every ticket it counted, so it spans their days. A
        # surge's findings of one event are one alert spanning its days.
        finding.window_start = min(finding.window_start, current.window_start)
        finding.window_end = max(finding.window_end, current.window_end)
        if finding.kind == AlertKind.SURGE:
            # the sentence, the count and the tickets name the alert's whole span
            surges.widened(finding)
    if finding.kind == AlertKind.SURGE and not finding.ticket_ids:
        finding.ticket_ids = _surge_tickets(finding)
    have: set[int] = set()
    if current is not None:
        have = _members([current.pk])[current.pk]
        _keep_earlier_tickets(finding, current, have)
    if finding.kind == AlertKind.SURGE:
        # the sentence names the days of the tickets counted and expects as many days, not the
        # (widened) detection window, which may end days after the last ticket
        span = _ticket_span(finding.ticket_ids)
        if span is not None:
            surges.ticket_span(finding, first=span[0], last=span[1])
    elif finding.kind in (AlertKind.TOPIC_CLUSTER, AlertKind.REPEAT_CALLER) and finding.ticket_ids:
        # the page's window column: the days of the tickets counted (the sentence keeps its rule's days)
        span = _ticket_span(finding.ticket_ids)
        if span is not None and isinstance(finding.detail.get("explain"), dict):
            params = finding.detail["explain"]
            params.update(first=span[0].isoformat(), last=span[1].isoformat())
            # tickets kept from earlier runs may span more than the rule's days: say so
            span_days = (span[1] - span[0]).days + 1
            if isinstance(params.get("days"), int) and span_days > params["days"]:
                params["days"] = span_days
    elif finding.kind == AlertKind.ADDRESS_CLUSTER and finding.ticket_ids:
        # the sentence names the days of the tickets counted (earlier runs' tickets included)
        span = _ticket_span(finding.ticket_ids)
        params = finding.detail.get("explain")
        if span is not None and isinstance(params, dict) and "ticket_days" in params:
            params.update(
                first=span[0].isoformat(), last=span[1].isoformat(), ticket_days=(span[1] - span[0]).days + 1
            )
    if current is None:
        closed = _last_closed(finding)
        if closed is not None and (
            not _new_evidence(finding, closed)
            or (
                closed.status in DECIDED_STATUSES
                and closed.decided_at is not None
                and closed.decided_at >= timezone.now() - timedelta(days=cooldown_days)
            )
        ):
            return None, False
    if finding.kind == AlertKind.TOPIC_CLUSTER:
        finding.key = current.key if current is not None else _topic_key(finding)
    params = finding.detail.get("explain")
    if isinstance(params, dict):
        with city_language():
            finding.explanation = mask_text(explain(finding.kind, params))
    fields = {
        "explanation": finding.explanation[:500],
        "window_start": finding.window_start,
        "window_end": finding.window_end,
        "observed": finding.observed,
        "expected": finding.expected,
        "spread": finding.spread,
        "score": finding.score,
        "detail": finding.detail,
        # the place follows the finding: a repeated caller or a topic whose tickets spread to
        # another district is that place's alert now (``_common_division`` widens it)
        "division_id": finding.division_id,
        "grid_id": finding.grid_id,
        "category_id": finding.category_id,
    }
    if current is not None:
        # The open alert is moved rather than closed and raised again: there is one open alert
        # per key, its history (raised at, ticket list) stays whole, and no decision is faked
        # (a closed alert would also start the cool-down that suppresses the key). Units that
        # become responsible with the move are told as on a new raise; those told already are not.
        told = set(_subscribers(current.division_id, current.kind))
        moved = current.division_id != finding.division_id
        for name, value in fields.items():
            setattr(current, name, value)
        current.save()
        _write_members(current, finding.ticket_ids, have=have)
        if moved:
            _notify(current, [u for u in _subscribers(current.division_id, current.kind) if u not in told])
        return current, False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(kind=finding.kind, key=finding.key, **fields)
    except IntegrityError:  # a concurrent detector raised it first
        return Alert.objects.get(key=finding.key, status=AlertStatus.OPEN), False
    _write_members(alert, finding.ticket_ids)
    _notify(alert, _subscribers(alert.division_id, alert.kind))
    return alert, True


def _notify(alert: Alert, unit_ids: list[int]) -> None:
    """Tell the members of ``unit_ids`` who may open ``alert`` about it: one notification each (a
    unit's shared inbox would also reach its handlers, who cannot open alerts; a unit nobody of
    which can open the alert is not told), with a link to the alert (a reopened ticket's alert
    also names the ticket, to those who may see it).

    Each member reads what the alerts page would tell them (``alert_as_read_by``,
    ``alert_explanation``), after the alert's kind and place (``alert_headline``: the inbox has
    no kind column, and "3天内1件" alone says neither what nor where): when the alert also counts tickets outside their jurisdiction, the
    count of those in it and that there are others, never how many; a member who sees all of
    its tickets (city-wide) reads the explanation it was raised on. Written in the city's
    language, as every inbox message, and kept as written: the message is what the member was
    told then; the alert, which may grow or move later, is read on its page through the link.

    One query per member (the alert with their counts, the one that decides whether they may
    open it): a unit has few analysts, and alerts are raised by the periodic detector run."""
    from zhiwang.analytics.selectors.alerts import alert_as_read_by, alert_headline

    told = []
    for member in _alert_readers(unit_ids).order_by("pk"):
        seen = alert_as_read_by(user=member, alert_id=alert.pk)
        if seen is not None:
            told.append((member.pk, seen, written(lambda seen=seen: alert_headline(seen))[:500]))
    if not told:
        return
    ticket_id = (
        alert.memberships.order_by("ticket_id").values_list("ticket_id", flat=True).first()
        if alert.kind == AlertKind.REPEAT_REOPEN
        else None
    )
    link = f"{reverse('analytics:alerts')}?alert={alert.pk}"
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=user_id,
                kind="analytics_alert",
                message=message,
                # the ticket's number is in the inbox: not for a member who may not see it
                ticket_id=None if seen.tickets_outside else ticket_id,
                link=link,
            )
            for user_id, seen, message in told
        ]
    )


def alerts_detect(*, today: date | None = None, kinds: list[str] | None = None) -> dict[str, int]:
    """Run the detectors for ``today`` (default: today) and record what they find; then resolve
    the open alerts of those kinds whose problem is over (``alerts_resolve``); returns counts."""
    today = today or timezone.localdate()
    counts = {"found": 0, "created": 0, "updated": 0, "suppressed": 0, "resolved": 0}
    for kind, detect in detectors.DETECTORS.items():
        if kinds and kind not in kinds:
            continue
        seen: set[int] = set()
        for finding in detect(today=today):
            counts["found"] += 1
            alert, created = alert_raise(finding=finding)
            counts["created" if created else ("updated" if alert else "suppressed")] += 1
            if alert is not None:
                seen.add(alert.pk)
        counts["resolved"] += alerts_resolve(kind=kind, today=today, seen=seen)
    return counts


@transaction.atomic
def alerts_resolve(*, kind: str, today: date, seen: set[int] = frozenset()) -> int:
    """Resolve (status ``resolved``, nobody as the decider, the reason in ``detail["resolved"]``)
    the open alerts of ``kind`` whose problem is over; history is kept, nothing is deleted:

    - a repeatedly reopened ticket's alert once the ticket is no longer open (``ticket_closed``);
    - any other alert the detector no longer finds (not in ``seen``), whose window ended by the
      end of ``today`` and none of whose tickets is open (``tickets_closed``).

    A merged ticket counts as open while its master ticket is open. An alert with open tickets
    stays for a person to decide. Returns how many were resolved."""
    end = local_midnight(today + timedelta(days=1))
    alerts = list(
        Alert.objects.select_for_update()
        .filter(kind=kind, status=AlertStatus.OPEN)
        .exclude(pk__in=list(seen))
        .only("pk", "kind", "window_end", "detail", "status")
    )
    if kind != AlertKind.REPEAT_REOPEN:
        alerts = [a for a in alerts if a.window_end <= end]
    # an alert without tickets is left to a person; one with an open ticket is not over
    with_tickets: set[int] = set()
    with_open: set[int] = set()
    for chunk in _chunks([a.pk for a in alerts]):
        members = AlertTicket.objects.filter(alert_id__in=chunk).order_by()
        with_tickets.update(members.values_list("alert_id", flat=True).distinct())
        # a merged ticket is still being handled as its master ticket is (the matter goes on
        # there); the merge repoints a master's own duplicates, so one step reaches the master
        with_open.update(
            members.filter(
                Q(ticket__status__in=OPEN_STATUSES)
                | Q(ticket__status=TicketStatus.MERGED, ticket__merged_into__status__in=OPEN_STATUSES)
            )
            .values_list("alert_id", flat=True)
            .distinct()
        )
    now = timezone.now()
    resolved = 0
    for alert in alerts:
        if alert.pk not in with_tickets or alert.pk in with_open:
            continue
        alert.status = AlertStatus.RESOLVED
        alert.decided_by = None
        alert.decided_at = now
        alert.detail = {
            **(alert.detail or {}),
            "resolved": "ticket_closed" if kind == AlertKind.REPEAT_REOPEN else "tickets_closed",
        }
        alert.save(update_fields=["status", "decided_by", "decided_at", "detail", "updated_at"])
        resolved += 1
    return resolved


def _alert_for(user, alert_id: int) -> Alert:
    require_analyst(user)
    if not 1 <= alert_id <= MAX_ID:
        raise NotFound("analytics.alert_not_found", _("There is no such alert in your jurisdiction."))
    alert = Alert.objects.visible_to(user).select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("analytics.alert_not_found", _("There is no such alert in your jurisdiction."))
    return alert


@transaction.atomic
def alert_decide(*, alert_id: int, user, status: str, note: str = "") -> Alert:
    """Mark an alert handled or a false alarm, or reopen a decided one (``status="open"``).

    Idempotent: the same decision again changes nothing. A decision is taken back only by a
    reopen (a false alarm clicked by mistake would otherwise silence the problem's alerts for
    good): the alert is open again, and the decision it had stays in ``detail["reopened"]``.
    """
    if status not in (AlertStatus.HANDLED, AlertStatus.FALSE, AlertStatus.OPEN):
        raise ServiceError(
            "analytics.decision_unknown", _("Mark the alert handled or false, or reopen it."), field="status"
        )
    alert = _alert_for(user, alert_id)
    if alert.status == status:
        return alert
    if status == AlertStatus.OPEN:
        return _alert_reopen(alert, user=user, note=note)
    if alert.status != AlertStatus.OPEN:
        raise ServiceError(
            "analytics.alert_decided",
            _("This alert was already marked “%(status)s”.") % {"status": alert.get_status_display()},
            field="status",
            status=409,
        )
    alert.status = status
    alert.decided_by = user
    alert.decided_at = timezone.now()
    alert.decision_note = (note or "")[:500]
    alert.save()
    return alert


def _alert_reopen(alert: Alert, *, user, note: str) -> Alert:
    """Open a decided alert again, keeping the decision it had (who, when, what, the note) in its
    ``detail``. Refused for one the detectors resolved (its problem is over: a new one is raised if
    it comes back) and while another open alert has its key (one open alert per problem)."""
    if alert.status not in DECIDED_STATUSES:
        raise ServiceError(
            "analytics.alert_not_reopenable",
            _("An alert resolved automatically cannot be reopened: its problem is over."),
            field="status",
            status=409,
        )
    conflict = ServiceError(
        "analytics.alert_reopen_conflict",
        _("A newer alert about the same problem is open: decide that one."),
        field="status",
        status=409,
    )
    if Alert.objects.filter(key=alert.key, status=AlertStatus.OPEN).exclude(pk=alert.pk).exists():
        raise conflict
    if alert.kind == AlertKind.TOPIC_CLUSTER:
        # a topic alert is the same problem as an open one sharing its tickets, whatever the
        # words of its key (``_open_alert``): two open alerts about one cluster would follow
        others = Alert.objects.filter(kind=AlertKind.TOPIC_CLUSTER, status=AlertStatus.OPEN).exclude(
            pk=alert.pk
        )
        own = AlertTicket.objects.filter(alert=alert).values_list("ticket_id", flat=True)
        if any(_shared(list(others.values_list("pk", flat=True)), list(own)).values()):
            raise conflict
    detail = dict(alert.detail or {})
    detail["reopened"] = [
        *detail.get("reopened", []),
        {
            "at": timezone.now().isoformat(),
            "by": user.pk,
            "was": alert.status,
            "decided_by": alert.decided_by_id,
            "decided_at": alert.decided_at.isoformat() if alert.decided_at else None,
            "decision_note": alert.decision_note,
            "note": (note or "")[:500],
        },
    ]
    alert.status = AlertStatus.OPEN
    alert.decided_by = None
    alert.decided_at = None
    alert.decision_note = ""
    alert.detail = detail
    try:
        with transaction.atomic():  # a detector may raise an open alert of the key meanwhile
            alert.save()
    except IntegrityError:
        raise conflict from None
    return alert


@transaction.atomic
def alert_subscribe(
    *, user, unit_code: str, division_code: str, kinds: list[str] | None = None
) -> AlertSubscription:
    """Subscribe a unit to the alerts of a division in the user's jurisdiction (idempotent)."""
    require_analyst(user)
    kinds = [k for k in (kinds or []) if k]
    if unknown := [k for k in kinds if k not in AlertKind.values]:
        raise ServiceError(
            "analytics.kind_unknown", _("Unknown alert kind %(kind)s.") % {"kind": unknown[0]}, field="kinds"
        )
    division = Division.objects.filter(code=(division_code or "").strip()).first()
    scope = scope_of(user)
    if division is None or not (scope.everything or division.pk in scope.division_ids):
        raise ServiceError(
            "analytics.place_unknown",
            _("There is no division %(code)s in your jurisdiction.") % {"code": division_code},
            field="division",
        )
    unit = OrgUnit.objects.filter(code=(unit_code or "").strip(), is_active=True).first()
    if unit is None:
        raise ServiceError(
            "analytics.unit_unknown", _("There is no unit %(code)s.") % {"code": unit_code}, field="unit"
        )
    if (
        not scope.everything
        and unit.pk != getattr(user, "org_unit_id", None)
        and unit.division_id not in scope.division_ids
    ):
        raise PermissionDeniedError(
            "analytics.unit_not_allowed",
            _("You may only subscribe units of your jurisdiction."),
            field="unit",
        )
    if not _alert_readers([unit.pk]).exists():
        # its members could not open what they are told about (the alerts are for analysts)
        raise ServiceError(
            "analytics.unit_cannot_see_alerts",
            _(
                "Nobody in %(unit)s may open alerts (leaders, dispatchers, data stewards and "
                "administrators may): subscribe a unit that has one."
            )
            % {"unit": unit.name},
            field="unit",
        )
    subscription, created = AlertSubscription.objects.get_or_create(
        unit=unit, division=division, defaults={"kinds": kinds, "created_by": user}
    )
    if not created and subscription.kinds != kinds:
        subscription.kinds = kinds
        subscription.save(update_fields=["kinds"])
    subscription.created = created
    return subscription


@transaction.atomic
def alert_unsubscribe(*, user, subscription_id: int) -> None:
    """Remove a subscription of a division in the user's jurisdiction (else ``analytics.subscription_not_found``, 404).

    The unit rule of ``alert_subscribe`` holds too: the subscribed unit must be the user's own or
    serve a division of their jurisdiction (else ``analytics.unit_not_allowed``, 403), so a
    district's analyst sees the city command centre's subscription of their district but cannot
    remove it.
    """
    from zhiwang.analytics.selectors.alerts import subscription_removable

    require_analyst(user)
    scope = scope_of(user)
    if not 1 <= subscription_id <= MAX_ID:  # names nothing (and SQLite cannot bind it)
        raise NotFound("analytics.subscription_not_found", _("There is no such subscription."))
    sub = AlertSubscription.objects.select_for_update().filter(pk=subscription_id).first()
    if sub is None or not (scope.everything or sub.division_id in scope.division_ids):
        raise NotFound("analytics.subscription_not_found", _("There is no such subscription."))
    if not subscription_removable(user=user, subscription=sub, scope=scope):
        raise PermissionDeniedError(
            "analytics.unit_not_allowed",
            _("You may only remove the subscriptions of units of your jurisdiction."),
            field="unit",
        )
    sub.delete()


# --- reports ------------------------------------------------------------------------------------


#: The two forms of a period: ``YYYY-MM`` (also ``YYYY-M``) and ``YYYY-Qn``; ASCII digits only.
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})", re.ASCII)
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])", re.ASCII)


def report_period_parse(period: str) -> tuple[str, date, date]:
    """``YYYY-MM`` (month) or ``YYYY-Qn`` (quarter) → ``(canonical, start, end)``, ``[start, end)``.

    Surrounding spaces, a lower-case ``q`` and a one-digit month are forgiven; the canonical form
    (``2026-01``, ``2026-Q2``) is what a report stores, so one period is one name. Anything else,
    and years outside the dashboards' calendar, is ``analytics.period_invalid``.
    """
    text = (period or "").strip().upper()
    try:
        if quarter_match := _QUARTER.fullmatch(text):
            year, quarter = int(quarter_match[1]), int(quarter_match[2])
            canonical = f"{year:04d}-Q{quarter}"
            start = date(year, 3 * quarter - 2, 1)
            end = date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
        elif month_match := _MONTH.fullmatch(text):
            year, month = int(month_match[1]), int(month_match[2])
            canonical = f"{year:04d}-{month:02d}"
            start = date(year, month, 1)
            end = date(year + (month == 12), 1 if month == 12 else month + 1, 1)
        else:
            raise ValueError
        if not FIRST_DAY <= start <= LAST_DAY:
            raise ValueError
    except ValueError:
        raise ServiceError(
            "analytics.period_invalid",
            _("Give the period as YYYY-MM or YYYY-Qn (e.g. 2026-Q2)."),
            field="period",
        ) from None
    return canonical, start, end


def report_period(period: str) -> tuple[date, date]:
    """``YYYY-MM`` (month) or ``YYYY-Qn`` (quarter) → ``[start, end)`` (see ``report_period_parse``)."""
    _canonical, start, end = report_period_parse(period)
    return start, end


def report_key(user, key: str) -> str:
    """The stored form of a report's idempotency key: ``u<user id>:<key>``, at most 80 characters.

    A longer one is ``u<user id>:h:`` and a digest of the key, never cut: two keys that differ
    only at the end are two requests.
    """
    return stored_report_key(user.pk, key)


def stored_report_key(user_id, key: str) -> str:
    plain = f"u{user_id}:{key}"
    if len(plain) <= 80:
        return plain
    return f"u{user_id}:h:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:56]


@transaction.atomic
def report_request(
    *, user, division_code: str, period: str, idempotency_key: str = ""
) -> tuple[Report, bool]:
    """Queue a report of a division for a month or quarter; the task worker makes the files.

    The same key (or, without one, the same user, division and period while a report is queued
    or running) returns the existing report instead of queueing a second one. A key sent again
    for another division or period is refused (422 ``analytics.idempotency_key_reused``): the
    report's own division and period are the cleaned request it was made from, so every report
    is compared, however old.
    """
    from zhiwang.analytics.selectors import place_for

    require_analyst(user)
    place = place_for(user=user, code=division_code)
    normalized, start, end = report_period_parse(period)
    if start > timezone.localdate():  # nothing to count yet (an unfinished period is made "up to today")
        raise ServiceError(
            "analytics.period_not_started",
            _("The period %(period)s has not begun yet: there is nothing to report.")
            % {"period": normalized},
            field="period",
        )
    # keys are per requester (as the tickets API's ids): another user's equal key is another report
    key = report_key(
        user,
        idempotency_key.strip()
        or hashlib.sha256(
            f"{user.pk}:{place.code}:{normalized}:{timezone.now():%Y%m%d%H%M}".encode()
        ).hexdigest()[:40],
    )
    existing = _report_with_key(key)
    if existing is None:
        # the lookup locks nothing while the row does not exist: a request with the same key at
        # the same moment (a double click, whose derived key is the same within a minute) may
        # insert first; this one then waits on the unique index and fails inside the savepoint,
        # and answers that request's report as a retry would
        try:
            with transaction.atomic():
                report = Report.objects.create(
                    division=place.division,
                    period=normalized,
                    start=start,
                    end=end,
                    idempotency_key=key,
                    requested_by=user,
                    updated_at=timezone.now(),
                )
        except IntegrityError:
            existing = Report.objects.select_for_update().filter(idempotency_key=key).first()
            if existing is None:  # another constraint: not the race
                raise
        else:
            transaction.on_commit(lambda: _enqueue_report(report.pk))
            return report, True
    if (existing.division_id, existing.period) != (place.division.pk, normalized):
        raise ServiceError(
            "analytics.idempotency_key_reused",
            _(
                "This idempotency key was already used for a report of another place or period. "
                "Send a new key to request another report."
            ),
            field="idempotency_key",
            status=422,
        )
    if existing.status == ReportStatus.FAILED:
        # a retry with the key of a failed report tries again (the key still makes one report)
        existing.status, existing.progress, existing.error = ReportStatus.QUEUED, 0, ""
        existing.updated_at = timezone.now()
        existing.save(update_fields=["status", "progress", "error", "updated_at"])
        transaction.on_commit(lambda: _enqueue_report(existing.pk))
    elif report_stuck(existing):
        # so is one that appears stuck (its worker died): queued again once, as ``report_rerun``
        _requeue_stuck(existing)
    return existing, False


#: A running report whose progress has not moved for this long appears stuck: its worker died (a
#: restart, a killed process) between two steps, which are seconds to a few minutes apart even for
#: a city's quarter. The reports page says so and offers to run it again (``report_rerun``), well
#: before ``reports_give_up_stale`` marks it failed (``ZHIWANG_REPORT_STALE_MINUTES``, 30), which
#: cannot happen at all while the task worker that runs that sweep is down.
REPORT_STUCK_AFTER = timedelta(minutes=15)


def _stuck_since(now=None):
    """The reports running whose last progress (``updated_at``; the request, ``created_at``, for a
    report that never wrote one) is ``REPORT_STUCK_AFTER`` old or older."""
    from django.db.models import Q

    before = (now or timezone.now()) - REPORT_STUCK_AFTER
    return Report.objects.filter(status=ReportStatus.RUNNING).filter(
        Q(updated_at__lte=before) | Q(updated_at=None, created_at__lte=before)
    )


def report_stalled_for(report: Report, *, now=None) -> timedelta | None:
    """How long a running ``report``'s progress has not moved: since its last progress step
    (``updated_at``; the request, ``created_at``, for a report that never wrote one). ``None``
    for a report not running (queued, done, failed: nothing is expected to move)."""
    if report.status != ReportStatus.RUNNING:
        return None
    since = report.updated_at or report.created_at
    if since is None:
        return None
    return max((now or timezone.now()) - since, timedelta(0))


def report_stuck(report: Report, *, now=None) -> bool:
    """Whether ``report`` is running and its progress has not moved for ``REPORT_STUCK_AFTER``
    (the reports page's hint and "Run the report again", the API's ``stuck``)."""
    stalled = report_stalled_for(report, now=now)
    return stalled is not None and stalled >= REPORT_STUCK_AFTER


def _requeue_stuck(report: Report) -> bool:
    """Queue ``report`` again if it is still stuck, in one conditional update: of two requests at
    once (a double click) only one queues it, and a report that moved meanwhile is left alone.
    The run that was stuck, should it wake, finds the report no longer its own (``updated_at``
    changed) and stops without writing (``report_generate``). Returns whether it was queued."""
    now = timezone.now()
    queued = (
        _stuck_since(now)
        .filter(pk=report.pk)
        .update(status=ReportStatus.QUEUED, progress=0, error="", updated_at=now)
    )
    if queued:
        report.status, report.progress, report.error, report.updated_at = ReportStatus.QUEUED, 0, "", now
        transaction.on_commit(lambda: _enqueue_report(report.pk))
    return bool(queued)


@transaction.atomic
def report_rerun(*, user, report_id: int, refuse_not_stuck: bool = False) -> tuple[Report, bool]:
    """Run again a report that appears stuck (``report_stuck``: running, no progress for
    ``REPORT_STUCK_AFTER``): it is queued again, the same report (no second one), for anybody
    who may request a report of its division. Idempotent: a report not stuck (queued again
    already, moving, done, failed) is left as it is, so a second click queues nothing.

    Returns ``(report, queued)``. ``analytics.report_not_found`` (404) when there is no such
    report in the user's jurisdiction. ``refuse_not_stuck`` (the API's
    ``POST /reports/{id}/rerun``): a report left as it is raises ``analytics.report_not_stuck``
    (409, ``report_not_stuck_error``) instead, so a client is told that nothing was queued; the
    page's button redirects with a message either way. Of two reruns at once, one queues the
    report and the other is refused (the conditional update in ``_requeue_stuck``)."""
    from zhiwang.analytics.selectors import place_for

    require_analyst(user)
    report = (
        Report.objects.visible_to(user).select_related("division").filter(pk=report_id).first()
        if 1 <= report_id <= MAX_ID
        else None
    )
    if report is None:
        raise NotFound("analytics.report_not_found", _("There is no such report in your jurisdiction."))
    place_for(user=user, code=report.division.code)  # may request a report of it (as ``report_request``)
    queued = _requeue_stuck(report) if report_stuck(report) else False
    if not queued:
        report.refresh_from_db()
        if refuse_not_stuck:
            raise report_not_stuck_error(report)
    return report, queued


def report_not_stuck_error(report: Report) -> ServiceError:
    """``analytics.report_not_stuck`` (409) for a report that cannot be run again, saying why
    from its state: queued (perhaps run again a moment ago), running and moving, done, failed
    (a failed report is requested again: its idempotency key sent again queues it)."""
    if report.status == ReportStatus.QUEUED:
        message = _(
            "This report is not stuck: it is queued and will run as soon as the task worker takes it."
        )
    elif report.status == ReportStatus.RUNNING:
        message = _(
            "This report is not stuck: it is running and has shown progress in the last %(minutes)d minutes."
        ) % {"minutes": int(REPORT_STUCK_AFTER.total_seconds() // 60)}
    elif report.status == ReportStatus.FAILED:
        message = _(
            "This report is not stuck: it failed. Request it again (its idempotency key sent again "
            "queues the same report)."
        )
    else:
        message = _("This report is not stuck: it is done and its files are ready.")
    return ServiceError("analytics.report_not_stuck", message, status=409)


def _report_with_key(key: str) -> Report | None:
    """The report of a stored idempotency key, locked until the transaction ends."""
    return Report.objects.select_for_update().filter(idempotency_key=key).first()


def _enqueue_report(report_id: int) -> None:
    from zhiwang.analytics.tasks import report_generate_task

    report_generate_task(report_id)


def may_download_report(user, report: Report, *, in_scope: bool = False) -> bool:
    """Whether ``user`` may have ``report``'s files: it lies in their jurisdiction (``in_scope``:
    the caller read it through ``Report.objects.visible_to(user)``), and when the files hold
    dispute figures, they see dispute cases too (as on the dashboard and the API)."""
    from zhiwang.analytics.selectors import is_analyst, may_see_disputes

    if not is_analyst(user):
        return False
    if not in_scope and not Report.objects.visible_to(user).filter(pk=report.pk).exists():
        return False
    return not report.includes_disputes or may_see_disputes(user)


def report_file(*, user, report_id: int, fmt: str):
    """The Excel or PDF file of a report for ``user`` to download.

    ``analytics.report_not_found`` (404) when there is no such report or file in their
    jurisdiction; ``analytics.report_disputes_not_allowed`` (403) when the files hold dispute
    figures and ``user`` does not see dispute cases.
    """
    require_analyst(user)
    report = Report.objects.visible_to(user).select_related("division").filter(pk=report_id).first()
    file = getattr(report, fmt, None) if report is not None and fmt in ("xlsx", "pdf") else None
    if not file:
        raise NotFound("analytics.report_not_found", _("There is no such report in your jurisdiction."))
    if not may_download_report(user, report, in_scope=True):
        raise PermissionDeniedError(
            "analytics.report_disputes_not_allowed",
            _("This report includes dispute figures, which your role does not see."),
        )
    return report, file


class _ReportTakenOver(Exception):
    """Another run has the report now: this one was given up as stale and the report requested again."""


def report_generate(*, report_id: int) -> Report:
    """Make the Excel and PDF files of a queued report, updating ``progress`` as it goes.

    The run claims the report first (queued → running, in one conditional update): a report
    running, done or failed is left as it is, so a task delivered twice makes the files once.
    Every later write is conditional on the claim being still this run's (``updated_at`` is
    the last value the run wrote): a run given up as stale (``reports_give_up_stale``) whose
    report was requested again is no longer the report's, and stops at its next step, its
    files deleted, instead of overwriting the new run's. The files are recorded together when
    both are made; a failure leaves none on disk (``reports.build_report_files``).
    """
    from zhiwang.analytics.reports import build_report_files, report_files_delete

    report = Report.objects.get(pk=report_id)
    mark = timezone.now()
    claimed = Report.objects.filter(pk=report.pk, status=ReportStatus.QUEUED).update(
        status=ReportStatus.RUNNING, progress=5, updated_at=mark
    )
    if not claimed:
        report.refresh_from_db()
        return report
    report.status, report.progress, report.updated_at = ReportStatus.RUNNING, 5, mark

    def mine():
        return Report.objects.filter(pk=report.pk, status=ReportStatus.RUNNING, updated_at=mark)

    def progress(value: int) -> None:
        nonlocal mark
        now = timezone.now()
        if not mine().update(progress=value, updated_at=now):
            raise _ReportTakenOver
        mark = now

    try:
        build_report_files(report, progress=progress)
    except _ReportTakenOver:
        logger.warning("report %s: given up as stale and requested again; this run stops", report.pk)
        return Report.objects.get(pk=report.pk)
    except Exception as error:  # recorded for the administrator; the page says it failed
        logger.exception("report %s failed", report.pk)
        mine().update(
            status=ReportStatus.FAILED,
            error=f"{type(error).__name__}: {error}"[:500],
            updated_at=timezone.now(),
        )
        raise
    finished = timezone.now()
    try:
        recorded = mine().update(
            status=ReportStatus.DONE,
            progress=100,
            finished_at=finished,
            xlsx=report.xlsx.name,
            pdf=report.pdf.name,
            includes_disputes=report.includes_disputes,
        )
    except BaseException:
        report_files_delete(report.xlsx, report.pdf)
        raise
    if not recorded:  # given up as stale after the last step, and requested again
        report_files_delete(report.xlsx, report.pdf)
        logger.warning("report %s: given up as stale and requested again; this run stops", report.pk)
        return Report.objects.get(pk=report.pk)
    report.status, report.progress, report.finished_at = ReportStatus.DONE, 100, finished
    return report


def reports_give_up_stale(*, now=None) -> int:
    """Mark failed the reports queued or running that showed no progress for
    ``ZHIWANG_REPORT_STALE_MINUTES`` (default 30): their worker died or the queue lost them, and
    their page would otherwise poll for ever. Returns how many; their requesters can ask again
    (the same idempotency key retries a failed report)."""
    from django.conf import settings
    from django.db.models import Q

    minutes = settings.ZHIWANG_REPORT_STALE_MINUTES
    before = (now or timezone.now()) - timedelta(minutes=minutes)
    stale = Report.objects.filter(status__in=(ReportStatus.QUEUED, ReportStatus.RUNNING)).filter(
        Q(updated_at__lt=before) | Q(updated_at=None, created_at__lt=before)
    )
    return stale.update(
        status=ReportStatus.FAILED,
        error=f"no progress for {minutes} minutes: the task worker stopped or lost the job",
        updated_at=now or timezone.now(),
    )
