"""Every write of the disputes app (one function per use case)."""

from zhiwang.disputes.services.assignment import (
    case_assign,
    case_assign_named,
    mediator_workloads,
    organisation_candidates,
)
from zhiwang.disputes.services.casekit import CONFIRMATION_DAYS, CaseResult
from zhiwang.disputes.services.changes import (
    case_close,
    case_mark_backlog,
    case_note,
    case_refer,
    case_reveal_parties,
    case_update,
    may_act,
)
from zhiwang.disputes.services.common import PARTY_LIMITS
from zhiwang.disputes.services.confirmation import (
    confirmation_apply,
    confirmation_deadline,
    confirmation_last_day,
    confirmation_result,
)
from zhiwang.disputes.services.mediation import (
    EXTENSION_MAX_DAYS,
    agreement_reach,
    case_extend,
    extension_last_day,
    extension_max_days,
    performance_follow_up,
    session_record,
)
from zhiwang.disputes.services.online import (
    agreement_confirm_online,
    confirmation_link_check,
    confirmation_links_send,
    online_session_schedule,
)
from zhiwang.disputes.services.registration import TITLE_LIMIT, case_from_ticket, case_register
from zhiwang.disputes.services.reminders import SweepResult, alerts_mark_read, reminders_sweep
from zhiwang.disputes.services.setup import mediator_enrol, organisation_create, service_centre_create
from zhiwang.disputes.services.visits import (
    VisitResult,
    visit_call,
    visit_complete,
    visit_register,
    visit_route,
)

__all__ = [
    "CONFIRMATION_DAYS",
    "EXTENSION_MAX_DAYS",
    "PARTY_LIMITS",
    "TITLE_LIMIT",
    "CaseResult",
    "SweepResult",
    "VisitResult",
    "agreement_confirm_online",
    "agreement_reach",
    "alerts_mark_read",
    "case_assign",
    "case_assign_named",
    "case_close",
    "case_extend",
    "case_from_ticket",
    "case_mark_backlog",
    "case_note",
    "case_refer",
    "case_register",
    "case_reveal_parties",
    "case_update",
    "confirmation_apply",
    "confirmation_deadline",
    "confirmation_last_day",
    "confirmation_link_check",
    "confirmation_links_send",
    "confirmation_result",
    "extension_last_day",
    "extension_max_days",
    "may_act",
    "mediator_enrol",
    "mediator_workloads",
    "online_session_schedule",
    "organisation_candidates",
    "organisation_create",
    "performance_follow_up",
    "reminders_sweep",
    "service_centre_create",
    "session_record",
    "visit_call",
    "visit_complete",
    "visit_register",
    "visit_route",
]
