"""Which cases a user sees, and the reads of one case.

Who sees which cases (``case_visible``):
- administrators: every case;
- dispatchers and leaders: cases inside their jurisdiction (the case's division);
- mediators: the cases of their own organisation and those assigned to them;
- window operators: cases registered at their service centre; an intake operator who works at
  no centre (the 12345 hotline) the cases they turned tickets into;
- anybody else (citizens, grid workers…): none (a case outside answers 404, like one that
  does not exist).
Every other read of cases (the list, the ledger, the indicators, the alerts) starts from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, CharField, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Exact
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import (
    OPEN_CASE_STATUSES,
    CaseEvent,
    CaseSource,
    CaseStatus,
    DisputeAlert,
    DisputeCase,
    DisputeCategory,
    MediationOrganisation,
    RiskColour,
)
from zhiwang.disputes.workflow import CaseAction, mediator_organisation_id, role_of
from zhiwang.geo.models import Division

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


# --- status as of a moment ------------------------------------------------------------------


def status_as_of(until: datetime | None, now: datetime | None = None) -> datetime | None:
    """The moment a period's status figures are read at: its end when that has passed, else
    ``None`` (a period still running, or open-ended, is read as it stands today).

    A past period's figures never change: a case closed after the period ended counts as still
    open in that period's report, however often the report is made again.
    """
    if until is None:
        return None
    return until if until <= (now or timezone.now()) else None


def status_conditions(as_of: datetime | None) -> dict[str, Q]:
    """``closed``, ``referred`` and ``open`` as conditions on cases, as of ``as_of`` (None: today).

    As of a moment they are read from the case's own timestamps, written once by the transitions
    (``closed_at`` by ``case_close``, ``referred_at`` by ``case_refer``; a closed case never
    reopens): closed = closed before ``as_of``; referred = referred before it; open = neither.
    """
    if as_of is None:
        closed = Q(status=CaseStatus.CLOSED)
        referred = Q(referral_kind__gt="")
        return {"closed": closed, "referred": referred, "open": Q(status__in=OPEN_CASE_STATUSES)}
    closed = Q(closed_at__lt=as_of)
    referred = Q(referral_kind__gt="", referred_at__lt=as_of)
    not_closed = Q(closed_at__isnull=True) | Q(closed_at__gte=as_of)
    not_referred = Q(referred_at__isnull=True) | Q(referred_at__gte=as_of)
    return {"closed": closed, "referred": referred, "open": not_closed & not_referred}


#: ``period_status`` of a case open at the end of a period that has ended whose timeline says
#: nothing before that end (a row imported without its history): "open" (在办), not one of the
#: ``CaseStatus`` values.
PERIOD_OPEN = "open"


def _open_state_before(as_of: datetime):
    """The state the case's latest timeline row before ``as_of`` left it in, when that is an open
    status (``OPEN_CASE_STATUSES``), as a subquery on cases (``CaseEvent.case`` is indexed)."""
    rows = (
        CaseEvent.objects.filter(case=OuterRef("pk"), at__lt=as_of, to_state__in=OPEN_CASE_STATUSES)
        .order_by("-at", "-pk")
        .values("to_state")
    )
    return Subquery(rows[:1], output_field=CharField())


def period_status(as_of: datetime | None):
    """The case's status as of ``as_of`` (``None``: its ``status``), as an expression on cases.

    As of a moment, closed and referred are what ``status_conditions`` reads (so a row and the
    figures above it agree): ``closed`` when closed before ``as_of``, else ``referred`` when
    referred before it; else the open status the timeline had it in then (the ``to_state`` of its
    latest row before ``as_of``: 待分派, 已分派, 调解中 or 已达成协议), ``PERIOD_OPEN`` when no row
    says. The ledger's rows, its summary by status and its ``status`` filter all read this."""
    if as_of is None:
        return F("status")
    status = status_conditions(as_of)
    return Case(
        When(status["closed"], then=Value(CaseStatus.CLOSED.value)),
        When(status["referred"], then=Value(CaseStatus.REFERRED.value)),
        default=Coalesce(_open_state_before(as_of), Value(PERIOD_OPEN), output_field=CharField()),
        output_field=CharField(),
    )


def is_period_open(value: str) -> bool:
    """Whether a ``period_status`` is open (not closed nor referred): one of the open statuses, or
    ``PERIOD_OPEN``."""
    return value == PERIOD_OPEN or value in OPEN_CASE_STATUSES


def period_status_label(value: str) -> str:
    """A ``period_status`` in words: "open" (在办) or the status's label."""
    if value == PERIOD_OPEN:
        return _("Open")
    return str(dict(CaseStatus.choices).get(value, value))


#: Timeline rows that changed a case field, with its values ``before`` and ``after`` in the
#: payload: a correction (``case_update``) and the amount raised to an agreement's (by the system).
VALUE_CHANGES = (CaseAction.UPDATE, CaseAction.RAISE_AMOUNT)


def _changed_value(name: str, side: str):
    """A case field's value before or after a timeline row that changed it (text, from the payload)."""
    return KeyTextTransform(name, KeyTransform(side, "payload"))


def _value_as_of(name: str, as_of: datetime, output_field):
    """A case field as it stood at ``as_of``, from the timeline's ``VALUE_CHANGES`` rows
    (``case_update``'s ``update``, the system's ``raise_amount`` to an agreement's): the value that the latest change before ``as_of``
    set; with none, the value before the first change after it; with no change at all, the field
    as it is. Two correlated subqueries on the case's own rows (``CaseEvent.case`` is indexed):
    no query per case."""
    changes = CaseEvent.objects.filter(
        case=OuterRef("pk"), action__in=VALUE_CHANGES, **{"payload__after__has_key": name}
    )
    set_before = (
        changes.filter(at__lt=as_of)
        .order_by("-at", "-pk")
        .annotate(v=_changed_value(name, "after"))
        .values("v")
    )
    held_before = (
        changes.filter(at__gte=as_of)
        .order_by("at", "pk")
        .annotate(v=_changed_value(name, "before"))
        .values("v")
    )

    def typed(rows):
        value = Subquery(rows[:1], output_field=CharField())
        return value if isinstance(output_field, CharField) else Cast(value, output_field)

    return Coalesce(typed(set_before), typed(held_before), F(name), output_field=output_field)


def risk_as_of(as_of: datetime | None):
    """The case's risk colour as of ``as_of`` (``None``: as it is), as an expression on cases.

    A past period's figures read the risk the case had at the period's end, like its status
    (``status_as_of``): a risk raised after the end does not count in that period."""
    if as_of is None:
        return F("risk")
    return _value_as_of("risk", as_of, CharField())


def amount_as_of(as_of: datetime | None):
    """The case's amount involved as of ``as_of`` (``None``: as it is), as an expression on cases
    (see ``risk_as_of``)."""
    if as_of is None:
        return F("amount")
    return _value_as_of("amount", as_of, DecimalField(max_digits=14, decimal_places=2))


@dataclass
class CaseFilters:
    """What a case list (the ledger) can be narrowed by; every field optional.

    ``status``: a status or ``open`` (any open status), as of ``received_to`` when that has passed
    (``period_status``: the status the case had then, as the ledger's rows show it), else today's; ``division``: a code, whole subtree;
    ``category`` / ``organisation``: codes; ``risk``: a risk colour (as of ``received_to`` when that
    has passed, like ``status``: ``risk_as_of``); ``source``: a case
    source; ``near``: open cases within the near window of
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


def check_period(start: datetime | None, end: datetime | None, *, field: str = "received_from") -> None:
    """Refuse a period of reception that ends before (or where) it begins: ``disputes.period_empty``
    on ``field``, as the analytics dashboard refuses its own. Counted over such a period every
    figure is 0 and the list empty, which reads as the answer (and the note under the figures
    named the day before the end as the period's last)."""
    if start is not None and end is not None and start >= end:
        raise ServiceError("disputes.period_empty", _("The start must be before the end."), field=field)


def case_list(*, user, filters: CaseFilters | dict | None = None, now: datetime | None = None):
    """Cases ``user`` may see, filtered, newest first. An unknown code is a field error, not an empty
    list; so is a period of reception that ends before it begins (``check_period``)."""
    if not isinstance(filters, CaseFilters):
        filters = CaseFilters.from_dict(filters or {})
    check_period(filters.received_from, filters.received_to)
    now = now or timezone.now()
    qs = case_visible(user).select_related(*_LIST_RELATED)
    if filters.status:
        if filters.status != "open" and filters.status not in CaseStatus.values:
            raise ServiceError("disputes.filter_invalid", _("Unknown status."), field="status")
        # Every status as of the end of a period that has ended (the indicators' definition), as
        # the rows and the summary show it: the list behind a past month's "open at the end" is
        # the cases open then, behind its "已达成协议" those agreed then, not those so today.
        as_of = status_as_of(filters.received_to, now)
        if filters.status == "open":
            qs = qs.filter(status_conditions(as_of)["open"])
        elif as_of is None:
            qs = qs.filter(status=filters.status)
        else:
            qs = qs.filter(Exact(period_status(as_of), filters.status))
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
        if filters.risk not in RiskColour.values:
            raise ServiceError("disputes.filter_invalid", _("Unknown risk colour."), field="risk")
        # as of the end of a period that has ended: the list behind "red risk, open at the end"
        qs = qs.filter(Exact(risk_as_of(status_as_of(filters.received_to, now)), filters.risk))
    if filters.source:
        if filters.source not in CaseSource.values:
            raise ServiceError("disputes.filter_invalid", _("Unknown source."), field="source")
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


def ticket_place(ticket) -> Division | None:
    """Where a case opened from ``ticket`` is (``case_from_ticket``): the ticket's division, else
    its subdistrict or district."""
    return ticket.division or ticket.subdistrict or ticket.district


def ticket_place_for(*, user, number: str) -> Division | None:
    """``ticket_place`` of ticket ``number`` when ``user`` may see it (the case form asks before the
    case exists), else None."""
    from zhiwang.tickets.selectors import ticket_get

    try:
        ticket = ticket_get(user=user, number=number)
    except Http404:
        return None
    return ticket_place(ticket)


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


def alerts_for(*, user, unread_only: bool = False) -> QuerySet[DisputeAlert]:
    """The user's alerts about cases they (still) may see: a mediator who changed organisation
    does not keep reading the old organisation's case titles."""
    qs = DisputeAlert.objects.filter(recipient=user, case__in=case_visible(user)).select_related("case")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-pk")


def category_choices():
    return DisputeCategory.objects.filter(is_active=True)
