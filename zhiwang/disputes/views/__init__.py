"""Web pages of the disputes app (thin: parse, call a selector or service, render).

Pages: the hub (``home``), the window (registration form and the function areas'
queues), the case form (from a visit, a ticket, or directly), the mediator's workbench,
a case with its timeline and every action, the ledger (台账) with its Excel export, and
the agreement as PDF or Word; ``public`` holds the one page without sign-in (a party
confirms the agreement through their link).
"""

from zhiwang.disputes.views.cases import agreement_document, case_action, case_detail, workbench
from zhiwang.disputes.views.common import alerts_read, home
from zhiwang.disputes.views.ledger import ledger, ledger_export, organisations
from zhiwang.disputes.views.registration import case_new
from zhiwang.disputes.views.window import registry_pick, visit_action, window

__all__ = [
    "agreement_document",
    "alerts_read",
    "case_action",
    "case_detail",
    "case_new",
    "home",
    "ledger",
    "ledger_export",
    "organisations",
    "registry_pick",
    "visit_action",
    "window",
    "workbench",
]
