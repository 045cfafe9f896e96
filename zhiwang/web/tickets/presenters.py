"""How a ticket reads on a page: deadlines with their state, timeline rows, the citizen's words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy, npgettext, pgettext

from zhiwang.core.masking import mask_name, mask_phone
from zhiwang.core.pagination import BoundedCount

# The floor under the classifier's category suggestions is the tickets app's, where they are
# computed, so the forms and the API offer the same ones (``selectors.shown_suggestions``).
from zhiwang.tickets.catalogue_selectors import SUGGESTION_FLOOR
from zhiwang.tickets.explanations import ROUTE_NO_ACTIVE_UNIT, ROUTE_NO_RULE, event_label, event_note
from zhiwang.tickets.models import Satisfaction, TicketStatus
from zhiwang.tickets.workflow import TicketAction

A = TicketAction
S = TicketStatus


@dataclass
class Deadline:
    label: str
    at: datetime | None
    state: str  # "overdue" · "warning" · "ok" · "stopped" · "" (none)

    @property
    def css(self) -> str:
        return f"deadline-{self.state}" if self.state else ""


def deadline_of(ticket, now: datetime | None = None) -> Deadline:
    """The deadline that matters now: signing for it while dispatched, else handling; stopped when suspended."""
    now = now or timezone.now()
    if ticket.status == S.SUSPENDED:
        return Deadline(_("Clock stopped"), ticket.due_at, "stopped")
    if ticket.status == S.DISPATCHED and ticket.accept_due_at and ticket.accept_due_at <= now:
        return Deadline(_("Accept by"), ticket.accept_due_at, "overdue")
    if ticket.status not in (S.DISPATCHED, S.ACCEPTED, S.REPLIED, S.VERIFYING) or not ticket.due_at:
        return Deadline("", None, "")
    if ticket.due_at <= now:
        return Deadline(_("Due"), ticket.due_at, "overdue")
    if ticket.warn_at and ticket.warn_at <= now:
        return Deadline(_("Due"), ticket.due_at, "warning")
    return Deadline(_("Due"), ticket.due_at, "ok")


def status_css(status: str) -> str:
    return f"status-{status}"


_PAYLOAD_LABELS = {
    "unit": _("unit"),
    "from_unit": _("from unit"),
    "legal_basis": _("legal basis"),
    "extra_days": _("extra working days"),
    "master": _("master ticket"),
    "level": _("supervision level"),
}


@dataclass
class TimelineRow:
    at: datetime
    who: str
    action: str
    from_state: str
    to_state: str
    note: str
    details: list[tuple[str, str]]


def _label(choices, value) -> str:
    return str(choices(value).label) if value in choices.values else (value or "")


def timeline_rows(events, *, channel: str | None = None) -> list[TimelineRow]:
    """Staff timeline: every event, with who, from → to and the useful parts of the payload.

    The system's notes are put into the reader's words (``tickets.explanations``); ``channel``
    is the ticket's (read from each event's ticket when not given).
    """
    rows = []
    for event in events:
        payload = event.payload or {}
        details = [
            (str(label), str(payload[key])) for key, label in _PAYLOAD_LABELS.items() if payload.get(key)
        ]
        if "resolved" in payload and not payload.get("unreachable"):
            details.append((str(_("resolved")), str(_("yes") if payload["resolved"] else _("no"))))
            if payload.get("satisfaction"):
                details.append((str(_("satisfaction")), _label(Satisfaction, payload["satisfaction"])))
        if payload.get("unreachable"):
            details.append((str(_("follow-up")), str(_("citizen unreachable"))))
        if payload.get("by_citizen"):
            details.append((str(_("rated by")), str(_("the citizen online"))))
        if payload.get("duplicates"):
            details.append((str(_("possible duplicates")), ", ".join(payload["duplicates"])))
        who = event.actor.display_name if event.actor_id else str(_("System"))
        if event.actor_id and event.unit_id and event.actor.org_unit_id == event.unit_id:
            who = f"{who} · {event.unit.name}"
        rows.append(
            TimelineRow(
                at=event.at,
                who=who,
                action=event_label(event),
                from_state=_label(TicketStatus, event.from_state),
                to_state=_label(TicketStatus, event.to_state),
                note=event_note(event, channel=channel),
                details=details,
            )
        )
    return rows


# --- what the citizen sees -----------------------------------------------------------------------

#: The public timeline (``selectors.PUBLIC_ACTIONS``) in a citizen's words.
CITIZEN_EVENTS = {
    A.RECEIVE: _("We received your request."),
    A.DISPATCH: _("Passed to the unit responsible."),
    A.REASSIGN: _("Passed to another unit that is responsible."),
    A.ACCEPT: _("The unit responsible is working on it."),
    A.APPROVE_EXTENSION: _("The unit needs more time; the time limit was extended."),
    A.REPLY: _("The unit has replied; the answer is being checked."),
    A.APPROVE_REPLY: _("The unit has answered."),
    A.REOPEN: _("Handled again after your feedback."),
    A.CLOSE: _("Closed."),
    A.REJECT: _("Not accepted."),
    A.MERGE: _("Handled together with an earlier request on the same matter."),
    A.ANSWER_DIRECTLY: _("Answered."),
}


def citizen_event_text(event) -> str:
    return str(CITIZEN_EVENTS.get(event.action, event.label))


def citizen_status(status: str) -> tuple[str, str]:
    """(short status, one sentence on what happens next) in plain words."""
    if status == S.PENDING_DISPATCH:
        return str(_("Received")), str(_("We are finding the unit responsible."))
    if status in (S.DISPATCHED, S.ACCEPTED, S.REPLIED, S.VERIFYING):
        return str(_("Being handled")), str(_("The unit responsible is working on it."))
    if status == S.SUSPENDED:
        return str(_("Paused")), str(_("Handling is paused for now; it will continue."))
    if status == S.FOLLOW_UP:
        return str(_("Answered")), str(_("Please tell us whether the problem was solved."))
    if status == S.CLOSED:
        return str(_("Closed")), ""
    if status == S.REJECTED:
        return str(_("Not accepted")), str(_("See the reason below."))
    if status == S.MERGED:
        return str(_("Merged")), str(_("It is handled together with an earlier request on the same matter."))
    return _label(TicketStatus, status), ""


def masked_phone(ticket) -> str:
    return mask_phone(ticket.reporter_phone) if ticket.reporter_phone else ""


def masked_name(ticket) -> str:
    """The reporter's name as every page shows it ("张**"); the whole name only on the logged reveal."""
    return mask_name(ticket.reporter_name) if ticket.reporter_name else ""


def shown_choices(view: dict) -> dict:
    """The classifier's view with the choices under ``SUGGESTION_FLOOR`` left out (a "0%" second
    choice says nothing), except the ticket's own category."""
    if view.get("choices"):
        view = dict(view)
        view["choices"] = [c for c in view["choices"] if c["chosen"] or c["confidence"] >= SUGGESTION_FLOOR]
    return view


def classification_panel(view: dict, *, ticket, events) -> dict:
    """The ticket page's classifier panel: ``view`` (``selectors.classification_view``) with the
    choices under the floor left out and ``outcome``, what happened to the ticket after the
    classifier (``outcome_text``), read from the dispatch rows and the route reason — never
    inferred from the classifier's confidence alone (a confident model does not dispatch a ticket
    that no routing rule covers, and a dispatched ticket is no longer "to be checked").

    Outcomes: ``auto-dispatched`` (the last dispatch row is the system's), ``dispatched`` (by
    ``dispatched_by``), ``queued`` (awaiting a dispatcher; ``queue_reason`` says why when the route reason does) or ``""``.
    """
    view = shown_choices(view)
    if not view.get("choices"):
        return view
    dispatches = [e for e in events if e.action == A.DISPATCH]
    outcome, text, who, reason = "", "", "", ""
    if dispatches and dispatches[-1].actor_id is None:
        outcome = "auto-dispatched"
        text = _("dispatched automatically by its routing rule, without a dispatcher's check")
    elif dispatches:
        actor = dispatches[-1].actor
        who = getattr(actor, "display_name", "") or str(actor)
        outcome = "dispatched"
        text = _("checked and dispatched by the dispatcher %(name)s") % {"name": who}
    elif ticket.status == TicketStatus.PENDING_DISPATCH:
        outcome = "queued"
        text = _("to be checked by a dispatcher")
        code = (ticket.route_reason or {}).get("code")
        if code == ROUTE_NO_RULE:
            reason = _("no routing rule dispatches it automatically")
        elif code == ROUTE_NO_ACTIVE_UNIT:
            reason = _("the routing rule's unit is not active")
    return {**view, "outcome": outcome, "outcome_text": text, "queue_reason": reason, "dispatched_by": who}


# --- the ticket list's count ----------------------------------------------------------------------

#: How many rows of each ``event`` filter (``tickets.selectors.EVENT_NAMES``) the list counts, in
#: the event's own noun ("10 次评价“不满意”"); ``n`` picks the plural, ``count`` is shown ("10,000+").
EVENT_COUNTS = {
    "received": ngettext_lazy("%(count)s receipt", "%(count)s receipts", "n"),
    "dispatched": ngettext_lazy("%(count)s dispatch", "%(count)s dispatches", "n"),
    "reassigned": ngettext_lazy("%(count)s reassignment", "%(count)s reassignments", "n"),
    "returned": ngettext_lazy("%(count)s approved return", "%(count)s approved returns", "n"),
    "replied": ngettext_lazy("%(count)s reply", "%(count)s replies", "n"),
    "closed": ngettext_lazy("%(count)s closure", "%(count)s closures", "n"),
    "rejected": ngettext_lazy("%(count)s rejection", "%(count)s rejections", "n"),
    "merged": ngettext_lazy("%(count)s merge", "%(count)s merges", "n"),
    "transferred": ngettext_lazy("%(count)s transfer", "%(count)s transfers", "n"),
    "urged": ngettext_lazy("%(count)s urge", "%(count)s urges", "n"),
    "supervised": ngettext_lazy("%(count)s supervision", "%(count)s supervisions", "n"),
    "reopened": ngettext_lazy("%(count)s reopening", "%(count)s reopenings", "n"),
    "follow_ups": ngettext_lazy("%(count)s follow-up", "%(count)s follow-ups", "n"),
    "overdue": ngettext_lazy("%(count)s time gone overdue", "%(count)s times gone overdue", "n"),
    "closed_on_time": ngettext_lazy("%(count)s closure on time", "%(count)s closures on time", "n"),
    "closed_late": ngettext_lazy("%(count)s late closure", "%(count)s late closures", "n"),
    "rated": ngettext_lazy("%(count)s rating", "%(count)s ratings", "n"),
    "resolved": ngettext_lazy("%(count)s rating “Resolved”", "%(count)s ratings “Resolved”", "n"),
    "unresolved": ngettext_lazy("%(count)s rating “Not resolved”", "%(count)s ratings “Not resolved”", "n"),
    "satisfied": ngettext_lazy("%(count)s rating “Satisfied”", "%(count)s ratings “Satisfied”", "n"),
    "basically_satisfied": ngettext_lazy(
        "%(count)s rating “Basically satisfied”", "%(count)s ratings “Basically satisfied”", "n"
    ),
    "unsatisfied": ngettext_lazy("%(count)s rating “Unsatisfied”", "%(count)s ratings “Unsatisfied”", "n"),
}
#: An event without a noun of its own (one added to the selector and not here yet).
EVENT_COUNT_ANY = ngettext_lazy("%(count)s record", "%(count)s records", "n")


def tickets_and_events(tickets: BoundedCount, event: str, events: BoundedCount) -> str:
    """The list's count under an ``event`` filter: the tickets it shows and the rows behind them,
    "9 tickets (10 ratings “Unsatisfied”)". A dashboard figure counts rows (a ticket rated twice
    counts twice), the list shows each ticket once: without the second number a district's
    "reopened 2" opening a list of one ticket reads as a bug."""
    shown_tickets = npgettext(
        "the tickets a list shows, beside the events behind them",
        "%(count)s ticket",
        "%(count)s tickets",
        tickets.value,
    ) % {"count": str(tickets)}
    shown_events = EVENT_COUNTS.get(event, EVENT_COUNT_ANY) % {"n": events.value, "count": str(events)}
    return pgettext("tickets and the events behind them", "%(tickets)s (%(events)s)") % {
        "tickets": shown_tickets,
        "events": shown_events,
    }
