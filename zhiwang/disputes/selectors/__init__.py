"""Reads of the disputes app, always scoped to who is asking.

Who sees which cases (``case_visible``):
- administrators: every case;
- dispatchers and leaders: cases inside their jurisdiction (the case's division);
- mediators: the cases of their own organisation and those assigned to them;
- window operators: cases registered at their service centre; an intake operator who works at
  no centre (the 12345 hotline) the cases they turned tickets into;
- anybody else (citizens, grid workers…): none (a case outside answers 404, like one that
  does not exist).
Personal data of the parties is masked everywhere unless revealed (``case_reveal_parties``).

The reads live in modules by subject (cases, ledger, organisations, window, online, registry);
import them from here.
"""

from zhiwang.disputes.selectors.cases import (
    CaseFilters,
    alerts_for,
    amount_as_of,
    case_get,
    case_list,
    case_parties,
    case_sessions,
    case_timeline,
    case_visible,
    category_choices,
    is_period_open,
    linked_ticket_timeline,
    near_days,
    period_status,
    period_status_label,
    risk_as_of,
    status_as_of,
    status_conditions,
    ticket_place,
    ticket_place_for,
)
from zhiwang.disputes.selectors.ledger import (
    LEDGER_GROUPS,
    PERIOD_YEARS,
    dispute_indicators,
    ledger_export_rows,
    ledger_rows,
    ledger_summary,
    period_assignments_attach,
    period_overdue,
    period_target,
)
from zhiwang.disputes.selectors.online import (
    agreement_confirmations,
    agreement_for_party,
    case_meetings,
    mask_party_data,
)
from zhiwang.disputes.selectors.organisations import mediators_of, organisation_list
from zhiwang.disputes.selectors.registry import (
    REGISTRY_PICK_LIMIT,
    may_use_registry,
    registry_candidates,
    registry_links,
    registry_picked,
)
from zhiwang.disputes.selectors.window import (
    area_choices,
    area_queues,
    centres_for,
    may_use_window,
    visit_get,
)

__all__ = [
    "LEDGER_GROUPS",
    "PERIOD_YEARS",
    "REGISTRY_PICK_LIMIT",
    "CaseFilters",
    "agreement_confirmations",
    "agreement_for_party",
    "alerts_for",
    "amount_as_of",
    "area_choices",
    "area_queues",
    "case_get",
    "case_list",
    "case_meetings",
    "case_parties",
    "case_sessions",
    "case_timeline",
    "case_visible",
    "category_choices",
    "centres_for",
    "dispute_indicators",
    "ledger_export_rows",
    "ledger_rows",
    "ledger_summary",
    "linked_ticket_timeline",
    "may_use_registry",
    "may_use_window",
    "mask_party_data",
    "mediators_of",
    "near_days",
    "organisation_list",
    "registry_candidates",
    "registry_links",
    "registry_picked",
    "is_period_open",
    "period_assignments_attach",
    "period_overdue",
    "period_status",
    "period_status_label",
    "period_target",
    "risk_as_of",
    "status_as_of",
    "status_conditions",
    "ticket_place",
    "ticket_place_for",
    "visit_get",
]
