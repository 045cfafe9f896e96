"""Request and answer shapes of the disputes API (parties masked in every answer)."""

from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import field_validator

from zhiwang.core.errors import ServiceError
from zhiwang.disputes import selectors, services, texts


def local_datetime(value: datetime | None) -> datetime | None:
    """A date-time from a query as an aware one: without an offset, local time (``TIME_ZONE``)."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value)


def ref(obj) -> dict | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


def _payload(obj) -> dict:
    """A timeline row's payload as a mapping (a damaged row's list or text reads as empty, as
    ``disputes.texts`` shows its stored text: the API answers, never a 500)."""
    return obj.payload if isinstance(obj.payload, dict) else {}


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


class Ref(Schema):
    code: str
    name: str


class PartyOut(Schema):
    id: int
    role: str
    kind: str
    name: str  # masked for a person
    identifier: str  # masked for a person
    phone: str  # masked

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.masked_name

    @staticmethod
    def resolve_identifier(obj) -> str:
        return obj.masked_identifier

    @staticmethod
    def resolve_phone(obj) -> str:
        return obj.masked_phone


class CaseOut(Schema):
    number: str
    version: int
    title: str
    status: str
    status_label: str
    category: Ref
    mediation_type: str
    source: str
    scale: str
    people_involved: int
    amount: Decimal
    risk: str
    division: Ref
    organisation: Ref | None
    mediator: str | None
    received_at: datetime
    target_at: datetime
    closed_at: datetime | None
    outcome: str
    referral_kind: str
    is_backlog: bool
    backlog_deadline: date | None
    ticket: str | None

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_category(obj) -> dict:
        return ref(obj.category)

    @staticmethod
    def resolve_division(obj) -> dict:
        return ref(obj.division)

    @staticmethod
    def resolve_organisation(obj) -> dict | None:
        return ref(obj.organisation)

    @staticmethod
    def resolve_mediator(obj) -> str | None:
        return obj.mediator.username if obj.mediator_id else None

    @staticmethod
    def resolve_ticket(obj) -> str | None:
        return obj.ticket.number if obj.ticket_id else None


class EventOut(Schema):
    """``note`` in the caller's language when the system wrote it (``note_code`` and ``note_params``
    say which sentence, for a client that words it itself; both empty for a person's note and for
    rows written before the codes existed, whose note is as stored). ``change``: what the row
    changed (a correction's fields with their values before and after, an extension's target
    dates) in the caller's language, with ``change_code`` and ``change_params``; empty when the row
    does not say (rows written before these existed)."""

    at: datetime
    action: str
    from_state: str
    to_state: str
    actor: str | None
    note: str
    note_code: str
    note_params: dict
    change: str
    change_code: str
    change_params: dict

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return obj.actor.username if obj.actor_id else None

    @staticmethod
    def resolve_note(obj) -> str:
        return obj.note_text

    @staticmethod
    def resolve_note_code(obj) -> str:
        return str(_payload(obj).get(texts.NOTE_CODE) or "")

    @staticmethod
    def resolve_note_params(obj) -> dict:
        payload = _payload(obj)
        return _mapping(payload.get(texts.NOTE_PARAMS)) if payload.get(texts.NOTE_CODE) else {}

    @staticmethod
    def resolve_change(obj) -> str:
        return texts.event_change(obj)

    @staticmethod
    def resolve_change_code(obj) -> str:
        return str(_payload(obj).get(texts.CHANGE_CODE) or "")

    @staticmethod
    def resolve_change_params(obj) -> dict:
        payload = _payload(obj)
        return _mapping(payload.get(texts.CHANGE_PARAMS)) if payload.get(texts.CHANGE_CODE) else {}


class SessionOut(Schema):
    id: int
    held_at: datetime
    place: str
    attendees: str
    record: str
    online: bool


class AgreementOut(Schema):
    number: str
    form: str
    terms: str
    performance_manner: str
    performance_deadline: date
    amount: Decimal
    signed_on: date
    confirmation_status: str
    confirmation_deadline: date
    performance_status: str

    @staticmethod
    def resolve_confirmation_deadline(obj) -> date:
        return services.confirmation_deadline(obj)


class CaseDetailOut(CaseOut):
    facts: str
    parties: list[PartyOut]
    sessions: list[SessionOut]
    agreement: AgreementOut | None
    events: list[EventOut]

    @staticmethod
    def resolve_parties(obj) -> list:
        return list(selectors.case_parties(case=obj))

    @staticmethod
    def resolve_sessions(obj) -> list:
        return list(selectors.case_sessions(case=obj))

    @staticmethod
    def resolve_agreement(obj):
        return getattr(obj, "agreement", None) if hasattr(obj, "agreement") else None

    @staticmethod
    def resolve_events(obj) -> list:
        return list(selectors.case_timeline(case=obj))


class PartyIn(Schema):
    """A party; ``registry_person_id`` / ``registry_entity_id`` pick a registry record (in the
    caller's registry scope) whose name and ID number / credit code replace the typed ones."""

    role: str
    kind: str = "person"
    name: str = ""
    identifier: str = ""
    phone: str = ""
    address: str = ""
    representative: str = ""
    registry_person_id: int | None = None
    registry_entity_id: int | None = None


class CaseIn(Schema):
    title: str = ""
    facts: str
    category: str
    division: str  # division code
    parties: list[PartyIn] = []
    # Where the case came from (``CaseSource``): required, never assumed — a client that left it out
    # used to record every case as "service window". A case from a ticket uses ``from-ticket``.
    source: str
    mediation_type: str = "peoples"
    scale: str = "individual"
    people_involved: int = 2
    amount: Decimal = Decimal("0")
    risk: str = "blue"
    idempotency_key: str = ""


class FromTicketIn(Schema):
    ticket: str
    category: str
    parties: list[PartyIn] = []
    risk: str = "blue"
    amount: Decimal = Decimal("0")
    idempotency_key: str = ""


class SeenIn(Schema):
    """``version``: the case's version as the caller last read it; a newer one answers 409."""

    version: int | None = None


class AssignIn(SeenIn):
    organisation: str = ""  # code; empty = chosen fairly
    mediator: str = ""  # username; empty = chosen fairly
    note: str = ""


class SessionIn(SeenIn):
    record: str
    held_at: datetime | None = None
    place: str = ""
    attendees: str = ""
    online: bool = False


class AgreementIn(SeenIn):
    form: str
    terms: str = ""
    performance_manner: str = ""
    performance_deadline: str = ""
    facts: str = ""
    signed_on: str = ""
    amount: Decimal | None = None  # yuan; not given: the case's amount involved


class ConfirmationIn(SeenIn):
    court: str = ""
    applied_on: str = ""


class FollowUpIn(SeenIn):
    status: str
    note: str = ""


class ReferIn(SeenIn):
    kind: str
    reason: str = ""


class CloseIn(SeenIn):
    outcome: str = ""
    note: str = ""


class ReasonIn(Schema):
    reason: str = ""


class RevealedPartyOut(Schema):
    id: int
    role: str
    kind: str
    name: str
    identifier: str
    phone: str
    address: str


class LedgerRowOut(Schema):
    key: str
    name: str
    total: int
    open: int
    success: int
    red: int
    amount: Decimal


#: The period of reception, as the ledger page's "Received from" / "Received before" fields.
_RECEIVED = (
    "A day (YYYY-MM-DD: its local midnight, Asia/Shanghai, as the ledger page reads its date fields) "
    "or a date-time (without an offset: local time)."
)


class CaseFilterIn(Schema):
    """The ledger's filters (``selectors.CaseFilters``), for the list and its summary alike.

    ``received_from`` / ``received_to``: the period of reception ``[from, to)``; when ``received_to``
    has passed, the status and risk filters, and the summary's figures and status grouping, are read
    as of that moment (``selectors.status_as_of``), as on the ledger page."""

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
    received_from: datetime | None = Field(None, description="Received on or after. " + _RECEIVED)
    received_to: datetime | None = Field(
        None, description="Received before (exclusive: the period's end). " + _RECEIVED
    )

    @field_validator("received_from", "received_to")
    @classmethod
    def _local(cls, value: datetime | None, info) -> datetime | None:
        # a year the database cannot hold once in UTC (0001-01-01 at +08:00) was a 500: refused on
        # its field, as the tickets' filters refuse it (a ServiceError passes through pydantic)
        if value is not None and not selectors.PERIOD_YEARS[0] <= value.year <= selectors.PERIOD_YEARS[1]:
            raise ServiceError(
                "disputes.date_out_of_range",
                _("Enter a date between the years %(low)s and %(high)s.")
                % {"low": selectors.PERIOD_YEARS[0], "high": selectors.PERIOD_YEARS[1]},
                field=info.field_name,
            )
        # "2026-11-01" parses as a naive midnight: the city's, as the page's date fields mean it
        # (a naive value compared with "now" would fail, and the database would guess its zone).
        return local_datetime(value)


class OnlineSessionIn(SeenIn):
    scheduled_at: datetime
    note: str = ""


class OnlineSessionOut(Schema):
    room: str
    scheduled_at: datetime
    video_url: str  # "" when no video service is configured: give the parties the room code
    note: str


class IssuedLinkOut(Schema):
    party: int
    role: str
    url: str  # the secret link: shown once, never stored
    expires_at: datetime
    texted: bool

    @staticmethod
    def resolve_party(obj) -> int:
        return obj.party.pk

    @staticmethod
    def resolve_role(obj) -> str:
        return obj.party.role


class VisitIn(Schema):
    centre: int
    area: str
    matter: str = ""
    visitor_name: str = Field("", max_length=64)  # Visitor.name
    visitor_id_number: str = ""
    visitor_phone: str = ""
    visitor_registry_person_id: int | None = None  # a registry person in the caller's scope
    idempotency_key: str


class VisitOut(Schema):
    number: str
    status: str
    area: str
    matter: str
    visitor_name: str  # masked
    visitor_phone: str  # masked
    registered_at: datetime

    @staticmethod
    def resolve_area(obj) -> str:
        return obj.area.code

    # As given at this visit (a later visit may have changed the visitor's phone).
    @staticmethod
    def resolve_visitor_name(obj) -> str:
        return obj.masked_visitor_name

    @staticmethod
    def resolve_visitor_phone(obj) -> str:
        return obj.masked_visitor_phone


class QueueOut(Schema):
    area: Ref
    waiting: int
    visits: list[VisitOut]


class CaseAlertOut(Schema):
    """``message`` in the caller's language (``message_code`` and ``message_params`` say which
    sentence; empty on alerts made before the codes existed, whose message is as stored)."""

    id: int
    case: str
    kind: str
    message: str
    message_code: str
    message_params: dict
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def resolve_case(obj) -> str:
        return obj.case.number

    @staticmethod
    def resolve_message(obj) -> str:
        return obj.text

    @staticmethod
    def resolve_message_params(obj) -> dict:
        return _mapping(obj.message_params)
