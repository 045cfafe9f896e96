"""Disputes (矛盾纠纷多元化解) and the one-stop service centre (1 window + 8 function areas + N rooms).

A visitor is registered once (``Visitor``, found again by a keyed hash of the ID
number) and each matter becomes a ``Visit`` in the queue of one ``FunctionArea`` of a
``ServiceCentre``. A matter for mediation becomes a ``DisputeCase``: parties,
sessions, an agreement, judicial confirmation, performance follow-up, referral and
closure, each state change a ``CaseEvent`` row (see ``disputes.workflow``).
Mediation organisations and their mediators form a small registry with workload.
See docs/disputes.md.

The models live in modules by subject (vocabularies, setup, visits, cases, online); import
them from here.
"""

from zhiwang.disputes.models.cases import (
    Agreement,
    AlertKind,
    CaseCounter,
    CaseEvent,
    CaseQuerySet,
    DisputeAlert,
    DisputeCase,
    MediationSession,
    Party,
    PerformanceFollowUp,
)
from zhiwang.disputes.models.online import ConfirmationLink, OnlineMeeting
from zhiwang.disputes.models.setup import (
    DisputeCategory,
    FunctionArea,
    MediationOrganisation,
    Mediator,
    OrganisationQuerySet,
    ServiceCentre,
    ServiceCentreQuerySet,
)
from zhiwang.disputes.models.visits import Visit, VisitEvent, Visitor, VisitQuerySet
from zhiwang.disputes.models.vocabularies import (
    OPEN_CASE_STATUSES,
    WORKLOAD_STATUSES,
    AgreementForm,
    CaseOutcome,
    CaseScale,
    CaseSource,
    CaseStatus,
    ConfirmationStatus,
    MediationType,
    OrganisationKind,
    PartyKind,
    PartyRole,
    PerformanceStatus,
    ReferralKind,
    RiskColour,
    VisitStatus,
)

__all__ = [
    "Agreement",
    "AgreementForm",
    "AlertKind",
    "CaseCounter",
    "CaseEvent",
    "CaseOutcome",
    "CaseQuerySet",
    "CaseScale",
    "CaseSource",
    "CaseStatus",
    "ConfirmationLink",
    "ConfirmationStatus",
    "DisputeAlert",
    "DisputeCase",
    "DisputeCategory",
    "FunctionArea",
    "MediationOrganisation",
    "MediationSession",
    "MediationType",
    "Mediator",
    "OPEN_CASE_STATUSES",
    "OnlineMeeting",
    "OrganisationKind",
    "OrganisationQuerySet",
    "Party",
    "PartyKind",
    "PartyRole",
    "PerformanceFollowUp",
    "PerformanceStatus",
    "ReferralKind",
    "RiskColour",
    "ServiceCentre",
    "ServiceCentreQuerySet",
    "Visit",
    "VisitEvent",
    "VisitQuerySet",
    "VisitStatus",
    "Visitor",
    "WORKLOAD_STATUSES",
]
