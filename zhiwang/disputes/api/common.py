"""The disputes router and the small steps every handler shares."""

from ninja import Router, Schema, Status

from zhiwang.disputes import selectors
from zhiwang.disputes.api.schemas import PartyIn, SeenIn
from zhiwang.geo.models import Division

router = Router(tags=["disputes"])


def party_dicts(parties: list[PartyIn]) -> list[dict]:
    rows = []
    for party in parties:
        row = party.dict(exclude={"registry_person_id", "registry_entity_id"})
        row["person_id"] = party.registry_person_id or ""
        row["entity_id"] = party.registry_entity_id or ""
        rows.append(row)
    return rows


def registry_fields(call, parties: list[PartyIn] = (), visitor: bool = False):
    """Run ``call``; a pick outside the caller's registry scope is reported on the API's own field
    (``parties.<i>.registry_person_id`` / ``registry_entity_id``, ``visitor_registry_person_id``)
    with ``disputes.registry_not_found`` — the same answer whether the record exists or not."""
    from zhiwang.core.errors import FieldError, ServiceError

    try:
        return call()
    except ServiceError as error:
        # The service numbers only the non-empty party rows, as the API client sent them.
        kept = [
            p
            for p in parties
            if p.name or p.identifier or p.phone or p.registry_person_id or p.registry_entity_id
        ]
        renamed = []
        for item in error.fields:
            name = item.field
            if item.code == "disputes.registry_not_found":
                if visitor and name == "visitor_name":
                    name = "visitor_registry_person_id"
                elif name.startswith("parties.") and name.endswith(".name"):
                    index = int(name.split(".")[1])
                    entity = index < len(kept) and kept[index].kind == "entity"
                    name = f"parties.{index}.registry_{'entity' if entity else 'person'}_id"
            renamed.append(FieldError(field=name, code=item.code, message=item.message))
        # The top-level ``field`` names one of the problems (the first): renamed with it, so it
        # always equals the ``fields`` entry it stands for.
        for before, after in zip(error.fields, renamed, strict=True):
            if error.field == before.field:
                error.field = after.field
                break
        error.fields = renamed
        raise


def division_by_code(code: str) -> Division | None:
    return Division.objects.filter(code=(code or "").strip()).first()


def case_in_scope(request, number: str, payload: SeenIn | None = None):
    """The case in the caller's scope (404 outside it); with the version the caller saw, if sent."""
    case = selectors.case_get(user=request.auth, number=number)
    if payload is not None and payload.version is not None:
        case.version = payload.version  # the service compares it with the locked row (409)
    return case


def fields_of(payload: Schema) -> dict:
    return payload.dict(exclude={"version"})


def created_answer(request, result):
    """The case just registered (or found again by its key): the caller's own submission.

    A retry that finds a case the caller may no longer see (they moved to another centre, the
    case was handed to another organisation…) answers 404 like an unknown case, never the case.
    """
    from django.http import Http404

    case = selectors.case_visible(request.auth).filter(pk=result.case.pk).first()
    if case is None:
        if not result.created:
            raise Http404(result.case.number)
        case = result.case  # just written by the caller: their own submission
    return Status(201 if result.created else 200, case)
