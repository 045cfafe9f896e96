"""Every write of the tickets app (one function per use case)."""

from zhiwang.tickets.services.actions import (
    ticket_accept,
    ticket_answer_directly,
    ticket_decide,
    ticket_dispatch,
    ticket_follow_up,
    ticket_merge,
    ticket_note,
    ticket_rate_by_citizen,
    ticket_reassign,
    ticket_reject,
    ticket_reply,
    ticket_request,
    ticket_resume,
    ticket_reveal_contact,
    ticket_review,
    ticket_supervise,
    ticket_transfer,
    ticket_urge,
    ticket_verify,
    ticket_warn,
)
from zhiwang.tickets.services.attachments import ticket_attach
from zhiwang.tickets.services.clock import clock_sweep
from zhiwang.tickets.services.corrections import ticket_recategorise
from zhiwang.tickets.services.submit import SubmitResult, find_duplicates, locate_place, ticket_submit

__all__ = [
    "SubmitResult",
    "clock_sweep",
    "find_duplicates",
    "locate_place",
    "ticket_accept",
    "ticket_answer_directly",
    "ticket_attach",
    "ticket_decide",
    "ticket_dispatch",
    "ticket_follow_up",
    "ticket_merge",
    "ticket_note",
    "ticket_transfer",
    "ticket_rate_by_citizen",
    "ticket_reassign",
    "ticket_recategorise",
    "ticket_reject",
    "ticket_reply",
    "ticket_request",
    "ticket_resume",
    "ticket_reveal_contact",
    "ticket_review",
    "ticket_submit",
    "ticket_supervise",
    "ticket_urge",
    "ticket_verify",
    "ticket_warn",
]
