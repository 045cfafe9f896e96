"""Tickets (工单): one request or incident, from any channel to closure.

The catalogue (``Category``) says what a ticket is about and how long it may take;
``RoutingRule`` says who must act; ``Ticket`` carries the state, the clock and the
place; ``TicketEvent`` is the append-only timeline every indicator is computed from.

The models live in modules by subject (vocabularies, configuration, ticket, requests,
notices, smart, imports, queued); import them from here.
"""

from zhiwang.tickets.models.configuration import Category, ConfigVersion, KindDeadline, RoutingRule
from zhiwang.tickets.models.imports import TicketImport, TicketImportStatus
from zhiwang.tickets.models.notices import ClockAlert, Notification, OutboundMessage
from zhiwang.tickets.models.queued import QueuedStatus, QueuedSubmission
from zhiwang.tickets.models.requests import Attachment, RequestKind, RequestStatus, TicketRequest
from zhiwang.tickets.models.smart import (
    UNCHECKED_SOURCES,
    CategoryCorrection,
    CorrectionSource,
    TrainingRun,
    TrainingStatus,
)
from zhiwang.tickets.models.ticket import CategorySource, Ticket, TicketCounter, TicketEvent, TicketQuerySet
from zhiwang.tickets.models.vocabularies import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Channel,
    Satisfaction,
    TicketKind,
    TicketStatus,
    Urgency,
    normalize_phone,
)

__all__ = [
    "Attachment",
    "Category",
    "CategoryCorrection",
    "CategorySource",
    "Channel",
    "ClockAlert",
    "ConfigVersion",
    "CorrectionSource",
    "FINAL_STATUSES",
    "KindDeadline",
    "Notification",
    "OPEN_STATUSES",
    "OutboundMessage",
    "QueuedStatus",
    "QueuedSubmission",
    "RequestKind",
    "RequestStatus",
    "RoutingRule",
    "Satisfaction",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketImport",
    "TicketImportStatus",
    "TicketKind",
    "TicketQuerySet",
    "TicketRequest",
    "TicketStatus",
    "TrainingRun",
    "TrainingStatus",
    "UNCHECKED_SOURCES",
    "Urgency",
    "normalize_phone",
]
