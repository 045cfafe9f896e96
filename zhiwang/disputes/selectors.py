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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import (
    OPEN_CASE_STATUSES,
    WORKLOAD_STATUSES,
    CaseEvent,
    CaseOutcome,
    CaseScale,
    CaseStatus,
    DisputeAlert,
    DisputeCase,
    DisputeCategory,
    FunctionArea,
    MediationOrganisation,
    RiskColour,
    ServiceCentre,
    Visit,
    VisitStatus,
)
from zhiwang.disputes.workflow import mediator_organisation_id, role_of
from zhiwang.geo.models import Division
from zhiwang.registry import selectors as registry_selectors
from zhiwang.registry.models import LegalEntity, Person
from zhiwang.registry.services import READER_ROLES as REGISTRY_READER_ROLES
from zhiwang.registry.services import role_of as registry_role_of

_LIST_RELATED = ("category", "division", "organisation", "mediator", "centre")


def near_days() -> int:
    """How many days before the one-month target a case counts as "near" (setting, default 7)."""
    return int(getattr(settings, "ZHIWANG_DISPUTE_NEAR_DAYS", 7))


def case_visible(user) -> QuerySet[DisputeCase]:
    """Every case ``user`` may see (see the module docstring)."""
    role = role_of(user)
    qs = DisputeCase.objects.all()
    if role in ("", "system"):
        return qs.none()
    if role == "administrator":
        return qs
    if role in ("dispatcher", "leader"):
        return qs.visible_to(user)
    if role == "mediator":
        org_id = mediator_organisation_id(user)
        condition = Q(mediator=user)
        if org_id is not None:
            condition |= Q(organisation_id=org_id)
        return qs.filter(condition)
    if role == "intake_operator":
        # A window operator sees their centre's cases, not those they registered elsewhere
        # before moving; the hotline (no centre) keeps the ones it registered without a centre.
        condition = Q(created_by=user, centre__isnull=True)
        if user.org_unit_id is not None:
            condition |= Q(centre__org_unit_id=user.org_unit_id)
        return qs.filter(condition)
    return qs.none()


@dataclass
class CaseFilters:
    """What a case list (the ledger) can be narrowed by; every field optional.

    ``status``: a status, ``open`` or ``closed``; ``division``: a code, whole subtree;
    ``category`` / ``organisation``: codes; ``near``: open cases within the near window of
    their one-month target (or past it); ``backlog``: backlog cases only; ``mine``: assigned
    to the asking mediator; ``q``: number (start) or title.
    """

    status: str = ""
    division: str = ""
    category: str = ""
    organisation: str = ""
    risk: str = ""
    source: str = ""
    near: bool = False
    backlog: bool = False
    mine: bool = False
    q: str = ""
    received_from: datetime | None = None
    received_to: datetime | None = None

    @classmethod
    def from_dict(cls, data) -> CaseFilters:
        known = set(cls.__dataclass_fields__)
        values = {}
        for key in known:
            if key not in data:
                continue
            value = data.get(key)
            if key in ("near", "backlog", "mine"):
                value = str(value).lower() in ("1", "true", "yes", "on")
            if value not in (None, ""):
                values[key] = value
        return cls(**values)


def case_list(*, user, filters: CaseFilters | dict | None = None, now: datetime | None = None):
    """Cases ``user`` may see, filtered, newest first. An unknown code is a field error, not an empty list."""
    if not isinstance(filters, CaseFilters):
        filters = CaseFilters.from_dict(filters or {})
    now = now or timezone.now()
    qs = case_visible(user).select_related(*_LIST_RELATED)
    if filters.status == "open":
        qs = qs.filter(status__in=OPEN_CASE_STATUSES)
    elif filters.status == "closed":
        qs = qs.filter(status=CaseStatus.CLOSED)
    elif filters.status:
        if filters.status not in CaseStatus.values:
            raise ServiceError("disputes.filter_invalid", _("Unknown status."), field="status")
        qs = qs.filter(status=filters.status)
    if filters.division:
        division = Division.objects.filter(code=filters.division.strip()).first()
        if division is None:
            raise ServiceError("disputes.filter_invalid", _("Unknown division code."), field="division")
        qs = qs.filter(division__code__startswith=division.code_prefix)
    if filters.category:
        if not DisputeCategory.objects.filter(code=filters.category).exists():
            raise ServiceError("disputes.filter_invalid", _("Unknown category."), field="category")
        qs = qs.filter(category__code=filters.category)
    if filters.organisation:
        if not MediationOrganisation.objects.filter(code=filters.organisation).exists():
            raise ServiceError("disputes.filter_invalid", _("Unknown organisation."), field="organisation")
        qs = qs.filter(organisation__code=filters.organisation)
    if filters.risk:
        qs = qs.filter(risk=filters.risk)
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.near:
        qs = qs.filter(
            status__in=(CaseStatus.RECEIVED, CaseStatus.ASSIGNED, CaseStatus.MEDIATING),
            target_at__lte=now + timedelta(days=near_days()),
        ).order_by("target_at", "pk")
    if filters.backlog:
        qs = qs.filter(is_backlog=True).order_by("backlog_deadline", "pk")
    if filters.mine:
        qs = qs.filter(mediator=user)
    if filters.q:
        text = filters.q.strip()
        qs = qs.filter(Q(number__startswith=text.upper()) | Q(title__icontains=text))
    if filters.received_from:
        qs = qs.filter(received_at__gte=filters.received_from)
    if filters.received_to:
        qs = qs.filter(received_at__lt=filters.received_to)
    return qs


def case_get(*, user, number: str) -> DisputeCase:
    """One case by number, or ``Http404`` when it does not exist or the user may not see it."""
    case = (
        case_visible(user)
        .select_related(*_LIST_RELATED, "ticket", "visit", "responsible_leader", "created_by")
        .filter(number=(number or "").strip().upper())
        .first()
    )
    if case is None:
        raise Http404(number)
    return case


def case_timeline(*, case: DisputeCase) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor").order_by("at", "pk")


def case_parties(*, case: DisputeCase):
    return case.parties.order_by("role", "pk")


def case_sessions(*, case: DisputeCase):
    return case.sessions.select_related("mediator").order_by("held_at", "pk")


def linked_ticket_timeline(*, user, case: DisputeCase):
    """The history of the ticket the case came from, if the user may see that ticket ([] otherwise)."""
    if case.ticket_id is None:
        return None, []
    from zhiwang.tickets.selectors import ticket_get, ticket_timeline

    try:
        ticket = ticket_get(user=user, number=case.ticket.number)
    except Http404:
        return None, []
    return ticket, list(ticket_timeline(user=user, ticket=ticket))


# --- ledger ----------------------------------------------------------------------------

LEDGER_GROUPS = {
    "division": ("division__code", "division__name"),
    "category": ("category__code", "category__name"),
    "organisation": ("organisation__code", "organisation__name"),
    "status": ("status", None),
}


def ledger_summary(*, user, by: str, filters: CaseFilters | dict | None = None) -> list[dict]:
    """Counts of cases per division, category, organisation or status (the ledger's summary table)."""
    if by not in LEDGER_GROUPS:
        raise ServiceError("disputes.filter_invalid", _("Unknown grouping."), field="by")
    key, name = LEDGER_GROUPS[by]
    fields = [key] + ([name] if name else [])
    rows = (
        case_list(user=user, filters=filters)
        .order_by()
        .values(*fields)
        .annotate(
            total=Count("pk"),
            open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES)),
            success=Count("pk", filter=Q(outcome=CaseOutcome.SUCCESS)),
            red=Count("pk", filter=Q(risk=RiskColour.RED)),
            amount=Sum("amount"),
        )
        .order_by(key)
    )
    labels = dict(CaseStatus.choices)
    return [
        {
            "key": row[key] or "",
            "name": (row[name] if name else str(labels.get(row[key], row[key]))) or _("(not assigned)"),
            "total": row["total"],
            "open": row["open"],
            "success": row["success"],
            "red": row["red"],
            "amount": row["amount"] or Decimal("0"),
        }
        for row in rows
    ]


# --- indicators (read by the analytics app later) ----------------------------------------


def dispute_indicators(
    *, user, since: datetime | None = None, until: datetime | None = None, division: str = ""
) -> dict:
    """Success rate, amounts, prevented escalation for the cases ``user`` may see, received in [since, until).

    - ``success_rate`` = closed as mediated successfully ÷ closed (None when nothing closed);
    - ``amount_involved`` / ``amount_resolved``: sums over all cases / successful ones;
    - ``prevented_escalation``: successful cases that were red or orange, or group/major
      disputes, or came from a petition (a dispute settled before it became a petition,
      a group incident or a case for the police);
    - ``on_time_rate`` = closed by the (possibly extended) target ÷ closed.
    """
    filters = CaseFilters(received_from=since, received_to=until, division=division)
    qs = case_list(user=user, filters=filters).order_by()
    success = Q(outcome=CaseOutcome.SUCCESS)
    escalation = success & (
        Q(risk__in=(RiskColour.RED, RiskColour.ORANGE))
        | Q(scale__in=(CaseScale.GROUP, CaseScale.MAJOR))
        | Q(source="petition")
    )
    row = qs.aggregate(
        received=Count("pk"),
        closed=Count("pk", filter=Q(status=CaseStatus.CLOSED)),
        success=Count("pk", filter=success),
        referred=Count("pk", filter=Q(referral_kind__gt="")),
        on_time=Count("pk", filter=Q(status=CaseStatus.CLOSED, closed_at__lte=F("target_at"))),
        prevented=Count("pk", filter=escalation),
        amount_involved=Sum("amount"),
        amount_resolved=Sum("amount", filter=success),
        open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES)),
        red_open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES, risk=RiskColour.RED)),
        backlog_open=Count("pk", filter=Q(status__in=OPEN_CASE_STATUSES, is_backlog=True)),
    )
    closed = row["closed"]
    return {
        "received": row["received"],
        "open": row["open"],
        "closed": closed,
        "success": row["success"],
        "referred": row["referred"],
        "success_rate": round(row["success"] / closed, 4) if closed else None,
        "on_time_rate": round(row["on_time"] / closed, 4) if closed else None,
        "prevented_escalation": row["prevented"],
        "amount_involved": row["amount_involved"] or Decimal("0"),
        "amount_resolved": row["amount_resolved"] or Decimal("0"),
        "red_open": row["red_open"],
        "backlog_open": row["backlog_open"],
    }


# --- registry of organisations and mediators ------------------------------------------------


def organisation_list(*, user) -> QuerySet[MediationOrganisation]:
    """Organisations inside the user's jurisdiction (a mediator: their own), with open-case load."""
    qs = MediationOrganisation.objects.select_related("division").annotate(
        load=Count("cases", filter=Q(cases__status__in=WORKLOAD_STATUSES)),
        mediator_count=Count("mediators", filter=Q(mediators__is_active=True), distinct=True),
    )
    role = role_of(user)
    if role == "mediator":
        return qs.filter(pk=mediator_organisation_id(user))
    if role in ("", "system", "citizen"):
        return qs.none()
    return qs.visible_to(user).order_by("division__code", "code")


def mediators_of(*, user, organisation: MediationOrganisation):
    from zhiwang.disputes.services.assignment import mediator_workloads

    if not organisation_list(user=user).filter(pk=organisation.pk).exists():
        return []
    return mediator_workloads(organisation)


# --- the window ------------------------------------------------------------------------------


def centres_for(*, user) -> QuerySet[ServiceCentre]:
    """Centres the user works at (a window operator: theirs) or supervises."""
    role = role_of(user)
    qs = ServiceCentre.objects.filter(is_active=True).select_related("division", "org_unit")
    if role == "administrator":
        return qs
    if role == "intake_operator":
        return qs.filter(org_unit_id=user.org_unit_id) if user.org_unit_id else qs.none()
    if role in ("dispatcher", "leader", "mediator"):
        return qs.visible_to(user)
    return qs.none()


def area_queues(*, user, centre: ServiceCentre) -> list[dict]:
    """Each active function area of a centre with its waiting and served visits (oldest first)."""
    if not centres_for(user=user).filter(pk=centre.pk).exists():
        raise Http404(centre.pk)
    visits = list(
        Visit.objects.filter(centre=centre, status__in=(VisitStatus.WAITING, VisitStatus.SERVING))
        .select_related("visitor", "area")
        .order_by("registered_at", "pk")
    )
    queues = []
    for area in FunctionArea.objects.filter(is_active=True):
        mine = [v for v in visits if v.area_id == area.pk]
        queues.append(
            {"area": area, "visits": mine, "waiting": sum(v.status == VisitStatus.WAITING for v in mine)}
        )
    return queues


def visit_get(*, user, number: str) -> Visit:
    visit = (
        Visit.objects.filter(centre__in=centres_for(user=user), number=(number or "").strip().upper())
        .select_related("visitor", "area", "centre", "centre__division")
        .first()
    )
    if visit is None:
        raise Http404(number)
    return visit


def alerts_for(*, user, unread_only: bool = False) -> QuerySet[DisputeAlert]:
    """The user's alerts about cases they (still) may see: a mediator who changed organisation
    does not keep reading the old organisation's case titles."""
    qs = DisputeAlert.objects.filter(recipient=user, case__in=case_visible(user)).select_related("case")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-pk")


def category_choices():
    return DisputeCategory.objects.filter(is_active=True)


def area_choices():
    return FunctionArea.objects.filter(is_active=True)


# --- the registry, seen from the window and the case form -----------------------------------


def may_use_registry(user) -> bool:
    return registry_role_of(user) in REGISTRY_READER_ROLES


#: The most registry records a pick list shows (the user narrows the search beyond that).
REGISTRY_PICK_LIMIT = 10


def registry_candidates(*, user, kind: str, q: str) -> list:
    """Registry people (or legal entities) matching ``q``, through the registry's own scoped
    search (name prefix, ID number or phone by keyed hash; entity name or credit code).

    Empty for a blank query or a user who may not open the registry. The records are
    rendered with their ``masked_*`` properties only.
    """
    q = (q or "").strip()
    if not q or not may_use_registry(user):
        return []
    if kind == "entity":
        return list(registry_selectors.entity_search(user=user, q=q, limit=REGISTRY_PICK_LIMIT))
    return list(registry_selectors.person_search(user=user, q=q, limit=REGISTRY_PICK_LIMIT))


def case_meetings(*, case) -> list:
    """The case's online sessions, soonest first (room code and, when configured, the video link)."""
    from zhiwang.disputes.models import OnlineMeeting

    return list(OnlineMeeting.objects.filter(case=case).order_by("scheduled_at", "pk"))


def agreement_confirmations(*, agreement) -> list[dict]:
    """Per party of the agreement's case: confirmed online (when, from which IP), or the latest link's expiry."""
    from zhiwang.disputes.models import ConfirmationLink

    links = {}
    for link in ConfirmationLink.objects.filter(agreement=agreement).order_by("created_at", "pk"):
        kept = links.get(link.party_id)
        if kept is None or kept.used_at is None:  # a used link stays the party's answer
            links[link.party_id] = link
    return [
        {"party": party, "link": links.get(party.pk)}
        for party in agreement.case.parties.order_by("role", "pk")
        if party.pk in links
    ]


def mask_party_data(text: str, parties) -> str:
    """``text`` (free text of an agreement) with each party's name, ID number / credit code, phone,
    address and representative replaced by its masked form (an entity's name and code are public)."""
    pairs = []
    for party in parties:
        pairs += [
            (party.identifier, party.masked_identifier),
            (party.phone, party.masked_phone),
            (party.address, party.masked_address),
            (party.representative, party.masked_representative),
            (party.name, party.masked_name),
        ]
    # Longest first: a full address is replaced before a name inside it.
    for plain, masked in sorted(
        {(p, m) for p, m in pairs if p and len(p) >= 2 and p != m}, key=lambda x: -len(x[0])
    ):
        text = text.replace(plain, masked)
    return text


def agreement_for_party(*, link) -> dict:
    """What the public confirmation page shows: the agreement with the parties' personal data masked,
    also inside its free text."""
    agreement = link.agreement
    parties = list(agreement.case.parties.order_by("role", "pk"))
    return {
        "number": agreement.number,
        "case_number": agreement.case.number,
        "parties": parties,
        "facts": mask_party_data(agreement.facts, parties),
        "terms": mask_party_data(agreement.terms, parties),
        "performance_manner": mask_party_data(agreement.performance_manner, parties),
        "performance_deadline": agreement.performance_deadline,
        "signed_on": agreement.signed_on,
    }


def registry_picked(*, user, kind: str, pk) -> object | None:
    """The registry record a form picked (by id), as ``user`` may see it; None when it is outside
    their registry scope or gone. Used to show a pick again, masked, when the form comes back."""
    text = str(pk or "").strip()
    if not text.isdigit() or not may_use_registry(user):
        return None
    model = LegalEntity if kind == "entity" else Person
    return model.objects.visible_to(user).filter(pk=int(text)).first()


def registry_links(*, user, records) -> dict:
    """``{(kind, pk): url}`` of the registry pages ``user`` may open among ``records``' links.

    ``records`` are parties or visitors (``person_id``, and ``entity_id`` for parties); a link
    is given only when the user's role opens registry pages and the record is in their scope.
    """
    if not may_use_registry(user):
        return {}
    person_ids = {r.person_id for r in records if getattr(r, "person_id", None)}
    entity_ids = {r.entity_id for r in records if getattr(r, "entity_id", None)}
    links = {}
    if person_ids:
        for pk in Person.objects.visible_to(user).filter(pk__in=person_ids).values_list("pk", flat=True):
            links[("person", pk)] = reverse("registry:person_detail", args=[pk])
    if entity_ids:
        for pk in LegalEntity.objects.visible_to(user).filter(pk__in=entity_ids).values_list("pk", flat=True):
            links[("entity", pk)] = reverse("registry:entity_detail", args=[pk])
    return links
