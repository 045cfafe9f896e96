"""What the system says about a ticket, put into words for each reader.

The system's own texts on a ticket — why the routing rules chose a unit, the timeline notes it
writes (received, dispatched automatically, the clock's warnings, urge and supervision) — are
stored as a code with parameters and rendered with gettext when they are read, in the reader's
language: an English reader sees English, a Chinese dispatcher sees Chinese, whoever (or whichever
process) wrote them. The parameters hold data only (names of categories, places and units, rule
ids, numbers), never words of the interface.

- A route reason (``Ticket.route_reason``, the receive row's ``payload["route_reason"]``) is
  ``{"code": "rule", "rule": 4, "what": category name or "*", "where": division name or "*",
  "unit": unit name}``, ``{"code": "no_rule"}`` or ``{"code": "no_active_unit", "rules": [3]}``.
- A system note is ``payload["note_code"]`` with ``payload["note_params"]`` (``NOTES``).

The sentence is also stored (``Ticket.route_explanation``, ``TicketEvent.note``, the receive row's
``payload["route"]``), in the city's language (``notify.city_language``) whoever wrote it, for old
readers, exports and search. Rows written before the codes existed are rendered from what they hold
(the action, ``payload["kind"]``, the ticket's channel) when the system wrote them; a note a person
wrote is always shown as written.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from zhiwang.classifier.models import tag_label
from zhiwang.tickets.models import Channel
from zhiwang.tickets.notify import city_language
from zhiwang.tickets.workflow import TicketAction

A = TicketAction

# --- route reasons ------------------------------------------------------------------------------

ROUTE_RULE = "rule"
ROUTE_NO_RULE = "no_rule"
ROUTE_NO_ACTIVE_UNIT = "no_active_unit"


def route_sentence(reason: dict | None) -> str:
    """The route reason in the active language; ``""`` for none (or a code this version does not know)."""
    code = (reason or {}).get("code")
    if code == ROUTE_RULE:
        return _("Rule #%(rule)s: %(what)s @ %(where)s → %(unit)s") % {
            "rule": reason.get("rule"),
            "what": reason.get("what") or "*",
            "where": reason.get("where") or "*",
            "unit": reason.get("unit", ""),
        }
    if code == ROUTE_NO_RULE:
        return _("No routing rule matches this category and place.")
    if code == ROUTE_NO_ACTIVE_UNIT:
        return _("The matching rules (#%(rules)s) name no active unit for this place.") % {
            "rules": ", #".join(str(pk) for pk in reason.get("rules") or ())
        }
    return ""


def route_text(reason: dict | None, stored: str = "") -> str:
    """Why a ticket was routed as it was, for the reader: from the reason, else the stored sentence
    (a ticket routed before reasons were stored)."""
    return route_sentence(reason) or stored


def stored_route_text(reason: dict | None) -> str:
    """The route reason as stored beside the code: in the city's language, whoever wrote it."""
    with city_language():
        return route_sentence(reason)


def ticket_route_text(ticket) -> str:
    """The ticket's route explanation for the reader (the staff pages and the API use this one)."""
    return route_text(getattr(ticket, "route_reason", None), ticket.route_explanation)


# --- system timeline notes ------------------------------------------------------------------------

#: ``TicketEvent.payload`` keys of a system note: its code and parameters.
NOTE_CODE, NOTE_PARAMS = "note_code", "note_params"

NOTE_RECEIVED = "received"  # {"channel": Channel}
NOTE_AUTO_DISPATCHED = "dispatched_auto"  # {"route": route reason, "model": name or None, "percent": int}
NOTE_ACCEPT_OVERDUE = "accept_overdue"  # the warn row's payload["kind"] as well
NOTE_DEADLINE_NEAR = "deadline_near"  # {"percent": share of the time limit used}
NOTE_OVERDUE = "overdue"
NOTE_URGED = "urged"
NOTE_SUPERVISED = "supervised"  # {"days": working days after the urge notice}
NOTE_SPEED_UP = "speed_up"  # a person's urge without words of their own
NOTE_RECATEGORISED = "recategorised"  # {"before": category name, "after": category name}, no words given


def _channel_label(code) -> str:
    return str(Channel(code).label) if code in Channel.values else str(code or "")


def _auto_dispatched(params: dict) -> str:
    why = route_sentence(params.get("route"))
    if params.get("model"):
        why = _("%(route)s (category by %(model)s, %(percent)s%% confident)") % {
            "route": why,
            "model": tag_label(params["model"]),  # "category v3" → "category model v3", in words
            "percent": params.get("percent"),
        }
    return _("Dispatched automatically: %(why)s") % {"why": why}


NOTES = {
    NOTE_RECEIVED: lambda p: _("Received via %(channel)s.") % {"channel": _channel_label(p.get("channel"))},
    NOTE_AUTO_DISPATCHED: _auto_dispatched,
    NOTE_ACCEPT_OVERDUE: lambda p: _("Not accepted in time."),
    NOTE_DEADLINE_NEAR: lambda p: (
        _("%(percent)s%% of the time limit has been used.") % {"percent": p.get("percent")}
    ),
    NOTE_OVERDUE: lambda p: _("The deadline has passed."),
    NOTE_URGED: lambda p: _("Urge notice: the deadline has passed. Reply without delay."),
    NOTE_SUPERVISED: lambda p: (
        _("Still overdue %(days)s working days after the urge notice.") % {"days": p.get("days")}
    ),
    NOTE_SPEED_UP: lambda p: _("Please speed up."),
    NOTE_RECATEGORISED: lambda p: (
        _("Category changed from %(before)s to %(after)s.")
        % {"before": p.get("before"), "after": p.get("after")}
    ),
}


def note_sentence(code: str, params: dict | None = None) -> str:
    """A system note in the active language; ``""`` for a code this version does not know."""
    render = NOTES.get(code)
    return render(params or {}) if render is not None else ""


def system_note(code: str, **params) -> tuple[str, dict]:
    """(the note as stored, in the city's language; the payload keys that render it for each reader)."""
    with city_language():
        text = note_sentence(code, params)
    return text, {NOTE_CODE: code, NOTE_PARAMS: params}


def _number_in(text: str) -> int | None:
    found = re.search(r"\d+", text or "")
    return int(found.group()) if found else None


def _legacy_note(event, channel) -> tuple[str, dict] | None:
    """(code, params) of a row written by the system before notes had codes; None: show it as stored."""
    payload = event.payload or {}
    if event.action == A.RECEIVE:  # always the system's words, even with the operator as actor
        if channel is None:
            channel = event.ticket.channel
        return NOTE_RECEIVED, {"channel": channel}
    if event.actor_id:
        return None
    if event.action == A.WARN:
        kind = payload.get("kind")
        if kind == NOTE_DEADLINE_NEAR:
            percent = _number_in(event.note)
            if percent is None:
                from zhiwang.tickets.services.clock import warning_ratio

                percent = int(warning_ratio() * 100)
            return kind, {"percent": percent}
        return (kind, {}) if kind in (NOTE_ACCEPT_OVERDUE, NOTE_OVERDUE) else None
    if event.action == A.URGE:
        return NOTE_URGED, {}
    if event.action == A.SUPERVISE:
        days = _number_in(event.note)
        if days is None:
            from zhiwang.tickets.services.clock import supervise_after_days

            days = supervise_after_days()
        return NOTE_SUPERVISED, {"days": days}
    return None


def event_note(event, *, channel: str | None = None) -> str:
    """A timeline row's note for the reader: the system's words in the reader's language, a person's
    as written. ``channel`` is the ticket's (looked up on ``event.ticket`` when not given)."""
    payload = event.payload or {}
    code = payload.get(NOTE_CODE)
    if code:
        return note_sentence(code, payload.get(NOTE_PARAMS) or {}) or event.note
    legacy = _legacy_note(event, channel)
    if legacy is None:
        return event.note
    return note_sentence(*legacy) or event.note


def event_payload(payload: dict | None) -> dict:
    """A row's payload for the reader: ``route`` (the route explanation) in the reader's language."""
    payload = payload or {}
    if payload.get("route_reason"):
        return {**payload, "route": route_text(payload["route_reason"], payload.get("route", ""))}
    return payload


#: The ``warn`` action's rows by ``payload["kind"]``: "deadline warning" only for the warning proper.
WARN_LABELS = {
    NOTE_ACCEPT_OVERDUE: gettext_lazy("Accept deadline missed"),
    NOTE_DEADLINE_NEAR: gettext_lazy("Deadline warning"),
    NOTE_OVERDUE: gettext_lazy("Overdue"),
}


def event_label(event) -> str:
    """The row's action in words; a ``warn`` row says which threshold it was."""
    if event.action == A.WARN:
        label = WARN_LABELS.get((event.payload or {}).get("kind"))
        if label is not None:
            return str(label)
    return str(A(event.action).label) if event.action in A.values else (event.action or "")


# --- time limits ----------------------------------------------------------------------------------

#: How a time limit reads inside a sentence, per ``LimitUnit``: lower case, singular or plural.
_LIMIT_WORDS = {
    "working_hours": lambda n: ngettext("%(n)s working hour", "%(n)s working hours", n),
    "working_days": lambda n: ngettext("%(n)s working day", "%(n)s working days", n),
    "natural_days": lambda n: ngettext("%(n)s natural day", "%(n)s natural days", n),
}


def deadline_text(amount, unit: str) -> str:
    """A time limit in words, e.g. "2 working days" / "2 个工作日"; ``""`` without one."""
    if amount is None or not unit:
        return ""
    amount = Decimal(str(amount))
    shown = f"{amount.normalize():f}"
    words = _LIMIT_WORDS.get(unit)
    if words is None:
        return f"{shown} {unit}"
    count = int(amount) if amount == amount.to_integral_value() else 2  # 1.5 hours: plural
    return words(count) % {"n": shown}
