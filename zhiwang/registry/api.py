"""REST API of the registry app, mounted at /api/v1/registry/ by zhiwang.api.

Same rules as the pages: every endpoint admits the roles that open the registry pages
(``services.may_read``; any other role is 403 ``auth.forbidden``, whatever its jurisdiction),
every read goes through a scoped selector (404 outside the
caller's jurisdiction, like a record that does not exist), ID numbers and phones are
masked in every answer (the birth date as year and month), ``POST /people/{id}/reveal``
unmasks them for an allowed user who gives a reason (logged). A search by ID number or
phone may answer 429 ``registry.search_limit`` (``services.audit``).

Searches take their text in a POST body (``POST /people/search``, ``POST /entities/search``,
``POST /places/match``): a name, ID number, phone, credit code or address in a query string
would sit in proxy access logs. The GETs taking ``?q=`` answer the same and are deprecated. A
list search answers a bare list of at most ``limit`` rows (it reads ``limit + 1``) and says in
the header ``X-Result-Truncated`` (``true`` / ``false``) whether more matched.

Writes call one service; errors come back in the house
shape ``{"error": {"code", "message", "field", "fields"}}``. Registering a known ID number or credit
code never overwrites it (``services.registering``): other values answer 409
``registry.already_registered`` with ``error.record`` (``{"kind", "id"}``) — correct the record with
``PATCH`` and ``expected_version`` instead. Registering an ID number the caller cannot see (on record
nowhere, or on a record outside their jurisdiction) answers 202 ``RegistrationReceivedOut`` either
way, counted against the hourly limit of such registrations
(``ZHIWANG_REGISTRY_UNSEEN_REGISTRATIONS_PER_HOUR``, apart from the searches'; 429
``registry.register_limit`` beyond it); a record elsewhere is left as it was until a data steward
decides.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import wraps

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from zhiwang.core.errors import PermissionDeniedError
from zhiwang.core.masking import mask_id_number
from zhiwang.registry import selectors, services
from zhiwang.registry.models import Housing, LegalEntity, Person

router = Router(tags=["registry"])


def readers_only(operation):
    """Every endpoint admits the roles the registry pages admit (``services.may_read``): a
    mediator or a department's handler has a jurisdiction too, and ``visible_to`` alone would
    list its people (masked, but with birth months and addresses) to them."""

    @wraps(operation)
    def wrapper(request, *args, **kwargs):
        if not services.may_read(request.user):
            raise PermissionDeniedError("auth.forbidden", _("You are not allowed to do this."))
        return operation(request, *args, **kwargs)

    return wrapper


# Every endpoint of this router, after authentication (the token's user is known) and after
# the request was parsed (a malformed request is 422 before it is 403).
router.add_decorator(readers_only)


# --- schemas -------------------------------------------------------------------------


class PlaceRef(Schema):
    code: str
    full_name: str
    level: str


class PersonOut(Schema):
    id: int
    name: str
    id_number: str  # masked
    phone: str  # masked
    gender: str
    birth_month: str  # "1990-01": the day never shows (it is in the full ID number)
    age: int
    household_type: str
    community: str | None
    source: str | None
    last_confirmed_at: datetime
    version: int


def _person(p: Person) -> dict:
    return {
        "id": p.pk,
        "name": p.name,
        "id_number": p.masked_id_number,
        "phone": p.masked_phone,
        "gender": p.gender,
        "birth_month": p.birth_month,
        "age": p.age,
        "household_type": p.household_type,
        "community": p.community.code if p.community_id else None,
        "source": p.source.name if p.source_id else None,
        "last_confirmed_at": p.last_confirmed_at,
        "version": p.version,
    }


class ResidenceOut(Schema):
    address: PlaceRef
    kind: str
    since: date | None
    until: date | None


class PersonDetailOut(PersonOut):
    residences: list[ResidenceOut]
    tags: list[str]
    eligible_for: list[str]


class PersonIn(Schema):
    id_number: str
    name: str
    household_type: str | None = None
    phone: str | None = None
    address: str | None = None
    since: date | None = None
    ethnicity: str | None = None
    household_address: str | None = None


class _CorrectionBase(Schema):
    """What every correction carries: why, and the version the client read."""

    note: str
    # Required, but checked by the service so that a missing one answers the registry's own
    # code (registry.version_required, field expected_version) rather than a schema error.
    expected_version: int | None = Field(
        None,
        description="Required: the record's version you corrected (from GET). A missing one is "
        "400 registry.version_required; an old one 409 registry.version_conflict.",
    )


class CorrectionIn(_CorrectionBase):
    name: str | None = None
    household_type: str | None = None
    phone: str | None = None
    ethnicity: str | None = None
    household_address: str | None = None


class ResidenceCorrectionIn(_CorrectionBase):
    """A typing mistake in the current residence: the right address and/or start; no move."""

    address: str | None = Field(
        None, description="The right standard address (code or text, at least a building); omit to keep it."
    )
    since: date | None = Field(None, description="The right start of the residence; omit to keep it.")


class RevealIn(Schema):
    reason: str


class RevealOut(Schema):
    id_number: str
    phone: str


class EntityOut(Schema):
    id: int
    credit_code: str
    name: str
    entity_type: str
    legal_representative: str  # masked
    industry: str
    phone: str  # masked
    founded_on: date | None  # 成立日期: the entity's, not when it came to its address
    community: str | None
    last_confirmed_at: datetime
    version: int


def _entity(e: LegalEntity) -> dict:
    return {
        "id": e.pk,
        "credit_code": e.credit_code,
        "name": e.name,
        "entity_type": e.entity_type,
        "legal_representative": e.masked_representative,
        "industry": e.industry,
        "phone": e.masked_phone,
        "founded_on": e.founded_on,
        "community": e.community.code if e.community_id else None,
        "last_confirmed_at": e.last_confirmed_at,
        "version": e.version,
    }


class EntityIn(Schema):
    credit_code: str
    name: str
    entity_type: str | None = None
    legal_representative: str | None = None
    industry: str | None = None
    phone: str | None = None
    founded_on: date | None = None
    address: str | None = None


class EntityCorrectionIn(_CorrectionBase):
    name: str | None = None
    entity_type: str | None = None
    legal_representative: str | None = None
    industry: str | None = None
    phone: str | None = None
    founded_on: date | None = None


class HousingOut(Schema):
    use: str
    owner: str  # masked
    is_rental: bool
    occupancy: str
    last_confirmed_at: datetime


def _housing(h: Housing | None) -> dict | None:
    if h is None:
        return None
    return {
        "use": h.use,
        "owner": h.masked_owner,
        "is_rental": h.is_rental,
        "occupancy": h.occupancy,
        "last_confirmed_at": h.last_confirmed_at,
    }


class ResidentOut(Schema):
    person_id: int
    name: str
    id_number: str  # masked
    household_type: str
    since: date | None


class RoomOut(Schema):
    code: str
    name: str
    floor: int | None
    housing: HousingOut | None
    residents: list[ResidentOut]
    entities: list[str]


class BuildingOut(Schema):
    address: PlaceRef
    people: int
    migrants: int
    rentals: int
    entities: int
    rooms: list[RoomOut]


class MatchOut(Schema):
    level: str
    confidence: float
    address: PlaceRef | None
    division: str | None


class BatchOut(Schema):
    id: int
    kind: str
    status: str
    file_name: str
    rows_total: int | None
    rows_read: int
    rows_created: int
    rows_updated: int
    rows_unchanged: int
    rows_rejected: int
    progress_percent: int


def _clean(payload: Schema) -> dict:
    return {k: v for k, v in payload.dict().items() if v is not None}


def _place(a) -> dict:
    return {"code": a.code, "full_name": a.full_name, "level": a.level}


def _room(view) -> dict:
    return {
        "code": view.room.code,
        "name": view.room.name,
        "floor": view.room.floor,
        "housing": _housing(view.housing),
        "residents": [
            {
                "person_id": r.person_id,
                "name": r.person.name,
                "id_number": r.person.masked_id_number,
                "household_type": r.person.household_type,
                "since": r.since,
            }
            for r in view.residents
        ],
        "entities": [o.entity.name for o in view.operations],
    }


# --- searches ------------------------------------------------------------------------

#: Answer header of the list searches (people, entities): ``true`` when more rows matched than
#: ``limit`` (the answer holds the first ``limit``), else ``false``. The answer stays a bare list.
TRUNCATED_HEADER = "X-Result-Truncated"

#: The header in the OpenAPI document of every search that sets it.
TRUNCATED_OPENAPI = {
    "responses": {
        200: {
            "headers": {
                TRUNCATED_HEADER: {
                    "description": "true: more matched than limit, the answer holds the first limit "
                    "(narrow the text); false: this is every match",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                }
            }
        }
    }
}


def _first(response: HttpResponse, rows, limit: int) -> list:
    """The first ``limit`` of ``rows`` (a search asked for ``limit + 1``); the header says if more matched."""
    rows = list(rows)
    response[TRUNCATED_HEADER] = "true" if len(rows) > limit else "false"
    return rows[:limit]


class SearchIn(Schema):
    q: str = ""
    limit: int = Field(50, ge=1, le=200)


class PlaceMatchIn(Schema):
    q: str


# --- people ----------------------------------------------------------------------------


def _people(request, response: HttpResponse, q: str, limit: int) -> list[dict]:
    found = selectors.person_search(user=request.user, q=q, limit=limit + 1).select_related("source")
    return [_person(p) for p in _first(response, found, limit)]


@router.post(
    "/people/search",
    response=list[PersonOut],
    summary="People in my jurisdiction, by name, ID number or phone (in the body)",
    openapi_extra=TRUNCATED_OPENAPI,
)
def people_search(request, payload: SearchIn, response: HttpResponse):
    """The search text travels in the body: an ID number or a phone in a query string would sit
    in proxy access logs, which the registry's masked audit log never sees."""
    return _people(request, response, payload.q, payload.limit)


@router.get(
    "/people",
    response=list[PersonOut],
    summary="People in my jurisdiction, by name, ID number or phone (deprecated: use POST /people/search)",
    deprecated=True,
    openapi_extra=TRUNCATED_OPENAPI,
)
def people(request, response: HttpResponse, q: str = "", limit: int = Query(50, ge=1, le=200)):
    """The same as ``POST /people/search``, kept for existing clients: the text sits in the URL."""
    return _people(request, response, q, limit)


@router.get("/people/{person_id}", response=PersonDetailOut, summary="One person (masked)")
def person(request, person_id: int):
    return _person_detail(request, selectors.person_get(user=request.user, pk=person_id))


def _person_detail(request, p: Person) -> dict:
    return {
        **_person(p),
        "residences": [
            {"address": _place(r.address), "kind": r.kind, "since": r.since, "until": r.until}
            for r in selectors.person_residences(user=request.user, person=p)
        ],
        "tags": [t.group for t in selectors.visible_tags(user=request.user, person=p)],
        "eligible_for": [r.service for r in selectors.person_eligibility(user=request.user, person=p)],
    }


class RegistrationReceivedOut(Schema):
    """The answer to registering an ID number the caller cannot see: the same whether it is on record
    nowhere (the record was created) or elsewhere (a data steward decides), built from the request
    alone."""

    status: str  # "received"
    id_number: str  # masked, as given
    name: str
    message: str


def _received(payload: PersonIn) -> dict:
    return {
        "status": "received",
        "id_number": mask_id_number(payload.id_number.strip().upper()),
        "name": payload.name.strip(),
        "message": _(
            "Registration received. If this ID number is already on record, a data steward checks "
            "the registration before the person appears in your area."
        ),
    }


@router.post(
    "/people",
    response={200: PersonOut, 201: PersonOut, 202: RegistrationReceivedOut},
    summary="Register a person (idempotent by ID number; a known one is filled, never overwritten)",
)
def person_register(request, payload: PersonIn):
    """200/201 with the record when the caller sees it (a number on record in their jurisdiction;
    any number for a city-wide caller). A number the caller cannot see — on record nowhere, or on a
    record elsewhere — answers 202 ``RegistrationReceivedOut``, the same either way: the record is
    created, or the registration waits for a data steward (``services.registering``)."""
    try:
        p, created = services.person_register(
            actor=request.user, source=request.user.org_unit, data=_clean(payload)
        )
    except services.RegistrationReferred:
        return 202, _received(payload)
    if created and not services.sees_whole_city(request.user):
        return 202, _received(payload)
    p = selectors.person_get(user=request.user, pk=p.pk) if services.in_scope(request.user, p) else p
    return (201 if created else 200), _person(p)


@router.patch("/people/{person_id}", response=PersonOut, summary="Correct a person's record (history kept)")
def person_correct(request, person_id: int, payload: CorrectionIn):
    p = selectors.person_get(user=request.user, pk=person_id)
    data = _clean(payload)
    note, version = data.pop("note"), data.pop("expected_version", None)
    services.person_correct(person=p, actor=request.user, data=data, note=note, expected_version=version)
    return _person(selectors.person_get(user=request.user, pk=person_id))


@router.patch(
    "/people/{person_id}/residence",
    response=PersonDetailOut,
    summary="Correct the address (or start) of a person's current residence: a typing mistake, no move",
)
def person_residence_correct(request, person_id: int, payload: ResidenceCorrectionIn):
    """Changes the current residence in place and appends one ``correct_residence`` history row
    (``services.person_residence_correct``): nothing ends, nothing starts. ``note`` and the person's
    ``expected_version`` are required as for ``PATCH /people/{id}``; a retry with the same version
    answers 409 ``registry.version_conflict`` once the first one is written, so it is never applied
    twice. The caller's jurisdiction must cover the current and the new address (403
    ``registry.permission_denied``, ``field`` ``address`` for the new one)."""
    p = selectors.person_get(user=request.user, pk=person_id)
    services.person_residence_correct(
        person=p,
        actor=request.user,
        address=payload.address,
        since=payload.since,
        note=payload.note,
        expected_version=payload.expected_version,
    )
    return _person_detail(request, selectors.person_get(user=request.user, pk=person_id))


@router.post(
    "/people/{person_id}/reveal",
    response=RevealOut,
    summary="Unmask ID number and phone (reason required, logged)",
)
def person_reveal(request, person_id: int, payload: RevealIn):
    p = selectors.person_get(user=request.user, pk=person_id)
    return services.person_reveal(person=p, actor=request.user, reason=payload.reason)


# --- entities ----------------------------------------------------------------------------


def _entities(request, response: HttpResponse, q: str, limit: int) -> list[dict]:
    found = selectors.entity_search(user=request.user, q=q, limit=limit + 1)
    return [_entity(e) for e in _first(response, found, limit)]


# Before ``/entities/{entity_id}``: the first path that matches ``/entities/search`` answers it.
@router.post(
    "/entities/search",
    response=list[EntityOut],
    summary="Legal entities in my jurisdiction, by name or credit code (in the body)",
    openapi_extra=TRUNCATED_OPENAPI,
)
def entities_search(request, payload: SearchIn, response: HttpResponse):
    """The search text travels in the body, out of proxy access logs (a shop's name is often its
    keeper's). ``POST /entities`` registers an entity: this is the search."""
    return _entities(request, response, payload.q, payload.limit)


@router.get(
    "/entities",
    response=list[EntityOut],
    summary="Legal entities by name or credit code (deprecated: use POST /entities/search)",
    deprecated=True,
    openapi_extra=TRUNCATED_OPENAPI,
)
def entities(request, response: HttpResponse, q: str = "", limit: int = Query(50, ge=1, le=200)):
    """The same as ``POST /entities/search``, kept for existing clients: the text sits in the URL."""
    return _entities(request, response, q, limit)


@router.get("/entities/{entity_id}", response=EntityOut, summary="One legal entity")
def entity(request, entity_id: int):
    return _entity(selectors.entity_get(user=request.user, pk=entity_id))


@router.post(
    "/entities",
    response={200: EntityOut, 201: EntityOut},
    summary="Register a legal entity (idempotent by credit code; a known one is filled, never overwritten)",
)
def entity_register(request, payload: EntityIn):
    e, created = services.entity_register(
        actor=request.user, source=request.user.org_unit, data=_clean(payload)
    )
    return (201 if created else 200), _entity(e)


@router.patch(
    "/entities/{entity_id}", response=EntityOut, summary="Correct a legal entity's record (history kept)"
)
def entity_correct(request, entity_id: int, payload: EntityCorrectionIn):
    e = selectors.entity_get(user=request.user, pk=entity_id)
    data = _clean(payload)
    note, version = data.pop("note"), data.pop("expected_version", None)
    services.entity_correct(entity=e, actor=request.user, data=data, note=note, expected_version=version)
    return _entity(selectors.entity_get(user=request.user, pk=entity_id))


# --- places ----------------------------------------------------------------------------


def _place_match(request, q: str) -> dict:
    # outside my jurisdiction the selector answers no match: neither an address nor a division is named
    result, address = selectors.place_search(user=request.user, q=q)
    return {
        "level": result.level,
        "confidence": result.confidence,
        "address": _place(address) if address is not None else None,
        "division": result.division.code if result.division is not None else None,
    }


@router.post(
    "/places/match",
    response=MatchOut,
    summary="Free-text address (in the body) → standard address in my jurisdiction",
)
def place_match_search(request, payload: PlaceMatchIn):
    """The address travels in the body: a home address in a query string would sit in proxy logs."""
    return _place_match(request, payload.q)


@router.get(
    "/places/match",
    response=MatchOut,
    summary="Free-text address → standard address in my jurisdiction (deprecated: use POST /places/match)",
    deprecated=True,
)
def place_match(request, q: str):
    """The same as ``POST /places/match``, kept for existing clients: the address sits in the URL."""
    return _place_match(request, q)


@router.get(
    "/places/{code}",
    response=BuildingOut,
    summary="A building (or the building of a room): rooms, residents, entities",
)
def place(request, code: str):
    address = selectors.address_get(user=request.user, code=code)
    building = selectors.building_of(address)
    view = selectors.building_view(user=request.user, building=building)
    return {
        "address": _place(building),
        "people": view.people,
        "migrants": view.migrants,
        "rentals": view.rentals,
        "entities": view.entities,
        "rooms": [_room(room) for unit in view.units for room in unit.rooms],
    }


# --- imports ----------------------------------------------------------------------------


@router.get("/imports/{batch_id}", response=BatchOut, summary="Progress and counters of an import batch")
def import_batch(request, batch_id: int):
    return selectors.import_batch_get(user=request.user, pk=batch_id)
