"""What the system writes on a case, a visit or an alert, put into words for each reader.

The system's own sentences — the registration row, the default assignment note, the report upward,
the amount involved raised to an agreement's, the reminders, a party's online confirmation, the link
to a ticket, the window's queue notes, and every alert — are stored as a code with parameters and
rendered with gettext when they are read, in the reader's language: an English reader sees English,
a Chinese mediator Chinese, whoever (or whichever process) wrote them. This is the pattern of
``tickets.explanations``. The parameters hold data only (numbers, dates, names of places,
organisations and people, choice codes), never words of the interface.

- A timeline row (``CaseEvent``, ``VisitEvent``) keeps them in ``payload["note_code"]`` and
  ``payload["note_params"]`` (the keys the tickets' timeline uses);
- an alert (``DisputeAlert``) in ``message_code`` and ``message_params``.

What a timeline row changed without changing the state (a correction of the risk colour, the scale,
…; an extension's new target date) is kept the same way in ``payload["change_code"]`` and
``payload["change_params"]`` (the fields and their values before and after) and shown beside the
note, which stays the person's (the reason given): the state alone ("assigned → assigned") said
nothing of what changed. Rows written before these keys existed show no such line.

The sentence is also stored (``note``, ``message``), in the city's language
(``tickets.notify.city_language``) whoever wrote it, for the admin, exports and search. Rows written
before the codes existed hold only that sentence and are shown as stored; so is a row whose code this
version does not know. A note a person wrote is always shown as written. A damaged row (parameters
that are not a mapping, a list where a field name belongs) is shown as stored too, and logged once
per row: one bad row must not take down a case page, a timeline export or the alerts list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.core.figures import as_number, yuan_text
from zhiwang.disputes.models.vocabularies import CaseScale, CaseSource, PartyRole, RiskColour

logger = logging.getLogger(__name__)

#: ``payload`` keys of a timeline row's system note: its code and parameters.
NOTE_CODE, NOTE_PARAMS = "note_code", "note_params"
#: ``payload`` keys of what a row changed, shown beside its note: a code and parameters.
CHANGE_CODE, CHANGE_PARAMS = "change_code", "change_params"

# --- the codes (stable: stored in the database and answered by the API) ---------------------------

REGISTERED = "registered"  # {"source": CaseSource}
ASSIGNED = "assigned"  # {"org": organisation name, "name": mediator's name}
RED_RISK = "red_risk"  # {"number", "place": division name, "title"}
ORANGE_RISK = "orange_risk"  # {"number", "place", "title"}
PARTY_CONFIRMED = "party_confirmed"  # {"role": PartyRole, "name": masked name, "number": agreement}
TICKET_LINKED = "ticket_linked"  # {"number": ticket number, "status": TicketStatus}
TARGET_PAST = "target_past"  # {"number", "date"}
TARGET_NEAR = "target_near"  # {"number", "date"}
CONFIRMATION_CLOSING = "confirmation_closing"  # {"number", "date"}
PERFORMANCE_DUE = "performance_due"  # {"number", "date"}
BACKLOG_DUE = "backlog_due"  # {"number", "date"}
BACKLOG_LEADER = "backlog_leader"  # {"number", "date"}: the leader named for a backlog case
ASSIGNED_TO_YOU = "assigned_to_you"  # {"number"}
VISIT_QUEUED = "visit_queued"  # {"area": function area name}
VISIT_ROUTED = "visit_routed"  # {"from": area name, "to": area name}
#: {"changes": [{"field": "risk", "from": "blue", "to": "red"}, …]}: a case field's name and its
#: values before and after (a choice code, a number, a category's name)
CASE_CHANGED = "case_changed"
TARGET_MOVED = "target_moved"  # {"from": date, "to": date}: the target date before and after
#: {"number": agreement number}: the amount involved raised to what the agreement settles
AMOUNT_RAISED = "amount_raised"


def _label(choices, value) -> str:
    """A choice's label in the active language; an unknown value as it is."""
    return str(choices(value).label) if value in choices.values else str(value or "")


def _ticket_status(value) -> str:
    from zhiwang.tickets.models import TicketStatus

    return _label(TicketStatus, value)


#: Case fields whose values are choice codes, worded by their labels.
_CASE_CHOICES = {"risk": RiskColour, "scale": CaseScale}


def _case_field(name: str) -> str:
    """A case field's name in the active language (its model label); an unknown one as it is."""
    from zhiwang.disputes.models import DisputeCase

    try:
        return str(capfirst(DisputeCase._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:
        return str(name)


def _case_value(name: str, value) -> str:
    if name == "amount" and as_number(value) is not None:
        return yuan_text(value)  # as the case page and the dashboards print amounts
    choices = _CASE_CHOICES.get(name)
    return _label(choices, value) if choices is not None else str(value if value is not None else "")


def _case_changes(p: dict) -> str:
    return pgettext("between the changes of one case timeline row", "; ").join(
        _("%(field)s: %(before)s → %(after)s")
        % {
            "field": _case_field(change.get("field", "")),
            "before": _case_value(change.get("field", ""), change.get("from")),
            "after": _case_value(change.get("field", ""), change.get("to")),
        }
        for change in p.get("changes") or []
        if isinstance(change, dict)
    )


SENTENCES: dict[str, Callable[[dict], str]] = {
    REGISTERED: lambda p: _("Registered: %(source)s.") % {"source": _label(CaseSource, p.get("source"))},
    # the name alone, no role word before it: the mediator's name may already say the role
    ASSIGNED: lambda p: (
        _("Assigned to %(name)s of %(org)s.") % {"org": p.get("org", ""), "name": p.get("name", "")}
    ),
    RED_RISK: lambda p: (
        _("Red-risk dispute %(number)s at %(place)s: %(title)s")
        % {"number": p.get("number", ""), "place": p.get("place", ""), "title": p.get("title", "")}
    ),
    ORANGE_RISK: lambda p: (
        _("Orange-risk dispute %(number)s at %(place)s: %(title)s")
        % {"number": p.get("number", ""), "place": p.get("place", ""), "title": p.get("title", "")}
    ),
    PARTY_CONFIRMED: lambda p: (
        _("%(role)s %(name)s confirmed agreement %(number)s online.")
        % {
            "role": _label(PartyRole, p.get("role")),
            "name": p.get("name", ""),
            "number": p.get("number", ""),
        }
    ),
    TICKET_LINKED: lambda p: (
        _("Linked to ticket %(number)s (%(status)s).")
        % {"number": p.get("number", ""), "status": _ticket_status(p.get("status"))}
    ),
    TARGET_PAST: lambda p: (
        _("Dispute case %(number)s is past its one-month target (%(date)s).")
        % {"number": p.get("number", ""), "date": p.get("date", "")}
    ),
    TARGET_NEAR: lambda p: (
        _("Dispute case %(number)s reaches its one-month target on %(date)s.")
        % {"number": p.get("number", ""), "date": p.get("date", "")}
    ),
    CONFIRMATION_CLOSING: lambda p: (
        _("The 30 days to apply for judicial confirmation of %(number)s end on %(date)s.")
        % {"number": p.get("number", ""), "date": p.get("date", "")}
    ),
    PERFORMANCE_DUE: lambda p: (
        _("Follow up the performance of %(number)s: due %(date)s.")
        % {"number": p.get("number", ""), "date": p.get("date", "")}
    ),
    BACKLOG_DUE: lambda p: (
        _("Backlog case %(number)s must be resolved by %(date)s.")
        % {"number": p.get("number", ""), "date": p.get("date", "")}
    ),
    BACKLOG_LEADER: lambda p: (
        _("You are the responsible leader of backlog case %(number)s (time limit %(date)s).")
        % {"number": p.get("number", ""), "date": p.get("date", "")}
    ),
    ASSIGNED_TO_YOU: lambda p: _("Case %(number)s was assigned to you.") % {"number": p.get("number", "")},
    VISIT_QUEUED: lambda p: _("Queued at %(area)s.") % {"area": p.get("area", "")},
    VISIT_ROUTED: lambda p: (
        _("From %(from)s to %(to)s.") % {"from": p.get("from", ""), "to": p.get("to", "")}
    ),
    CASE_CHANGED: _case_changes,
    TARGET_MOVED: lambda p: (
        _("Target date moved from %(from)s to %(to)s.") % {"from": p.get("from", ""), "to": p.get("to", "")}
    ),
    AMOUNT_RAISED: lambda p: (
        _("Raised to the amount agreed in %(number)s: a case involves at least what its agreement settles.")
        % {"number": p.get("number", "")}
    ),
}


def sentence(code: str, params: dict | None = None) -> str:
    """The sentence of ``code`` in the active language; ``""`` for a code this version does not know."""
    render = SENTENCES.get(code or "")
    return render(params or {}) if render is not None else ""


@dataclass(frozen=True)
class SystemText:
    """A sentence the system writes: its code and parameters (data only, JSON-safe)."""

    code: str
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.code not in SENTENCES:
            raise ValueError(f"unknown disputes text code {self.code!r}")

    @cached_property
    def stored(self) -> str:
        """The sentence as stored beside the code: in the city's language, whoever wrote it."""
        from zhiwang.tickets.notify import city_language

        with city_language():
            return sentence(self.code, self.params)

    def note_keys(self) -> dict:
        """The ``payload`` keys that render a timeline row's note for each reader."""
        return {NOTE_CODE: self.code, NOTE_PARAMS: dict(self.params)}

    def change_keys(self) -> dict:
        """The ``payload`` keys that render what a timeline row changed, for each reader."""
        return {CHANGE_CODE: self.code, CHANGE_PARAMS: dict(self.params)}


#: Rows whose stored code could not be worded, already logged (per process; forgotten when full,
#: so a storm of renders of one damaged row logs once, and a long-lived process stays small).
_LOGGED_ROWS: set[str] = set()
_LOGGED_ROWS_LIMIT = 1024


def _worded(row, code: str, params) -> str:
    """``sentence`` of a stored code, or ``""`` (the caller then shows what is stored) when the row's
    parameters are damaged: logged once per row."""
    try:
        return sentence(code, params or {})
    except Exception:
        key = f"{type(row).__name__}:{row.pk}"
        if key not in _LOGGED_ROWS:
            if len(_LOGGED_ROWS) >= _LOGGED_ROWS_LIMIT:
                _LOGGED_ROWS.clear()
            _LOGGED_ROWS.add(key)
            logger.warning("%s: stored text %r cannot be worded; shown as stored", key, code, exc_info=True)
        return ""


def _payload(event) -> dict:
    """A timeline row's payload; a damaged one (not a mapping) holds no codes."""
    return event.payload if isinstance(event.payload, dict) else {}


def event_note(event) -> str:
    """A timeline row's note for the reader: the system's words in the reader's language, a person's
    (and an old or damaged row's) as stored."""
    payload = _payload(event)
    code = payload.get(NOTE_CODE)
    if code:
        return _worded(event, code, payload.get(NOTE_PARAMS)) or event.note
    return event.note


def event_change(event) -> str:
    """What a timeline row changed, for the reader; ``""`` for a row that does not say (a row
    written before the change keys existed, a code this version does not know, damaged keys)."""
    payload = _payload(event)
    return _worded(event, payload.get(CHANGE_CODE) or "", payload.get(CHANGE_PARAMS))


def alert_message(alert) -> str:
    """An alert's message for the reader: from its code in the reader's language, else (or when
    damaged) as stored."""
    if alert.message_code:
        return _worded(alert, alert.message_code, alert.message_params) or alert.message
    return alert.message
