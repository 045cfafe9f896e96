"""Every workflow action on a ticket, by stage (kept as one import path for callers).

The actions live by workflow stage: ``dispatching`` (dispatch, reassign), ``handling``
(accept, requests and decisions, resume, reply), ``closing`` (review, verify, follow-up,
rating), ``triage`` (merge, reject, answer directly, notes, contact reveals) and
``escalation`` (warn, urge, supervise). All of them go through
``transition.apply_transition``: one transaction, one timeline row each.
"""

from zhiwang.tickets.services.closing import (
    ticket_follow_up,
    ticket_rate_by_citizen,
    ticket_review,
    ticket_verify,
)
from zhiwang.tickets.services.dispatching import ticket_dispatch, ticket_reassign
from zhiwang.tickets.services.escalation import ticket_supervise, ticket_urge, ticket_warn
from zhiwang.tickets.services.handling import (
    ticket_accept,
    ticket_decide,
    ticket_reply,
    ticket_request,
    ticket_resume,
)
from zhiwang.tickets.services.triage import (
    DIRECT_ANSWER_KINDS,
    ticket_answer_directly,
    ticket_merge,
    ticket_note,
    ticket_reject,
    ticket_reveal_contact,
    ticket_transfer,
)

__all__ = [
    "DIRECT_ANSWER_KINDS",
    "ticket_accept",
    "ticket_answer_directly",
    "ticket_decide",
    "ticket_dispatch",
    "ticket_follow_up",
    "ticket_merge",
    "ticket_note",
    "ticket_transfer",
    "ticket_rate_by_citizen",
    "ticket_reassign",
    "ticket_reject",
    "ticket_request",
    "ticket_resume",
    "ticket_reply",
    "ticket_review",
    "ticket_reveal_contact",
    "ticket_supervise",
    "ticket_urge",
    "ticket_verify",
    "ticket_warn",
]
