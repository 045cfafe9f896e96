"""The one-stop window: register a visitor once, queue the matter at a function area, serve it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, PermissionDeniedError, ServiceError
from zhiwang.core.fingerprint import fingerprint
from zhiwang.core.masking import mask_name, mask_phone
from zhiwang.core.validators import validate_id_number
from zhiwang.disputes import texts
from zhiwang.disputes.models import FunctionArea, ServiceCentre, Visit, VisitEvent, Visitor, VisitStatus
from zhiwang.disputes.services.common import clean, keyed_hash, next_number, parse_phone
from zhiwang.disputes.services.idempotency import check_same_request, idempotency_key_clean
from zhiwang.disputes.services.registry import person_for_id_number, picked_person
from zhiwang.disputes.texts import SystemText
from zhiwang.disputes.workflow import VISIT_WORKFLOW, VisitAction, role_of

#: The longest visitor's name a visit keeps (``Visitor.name``).
VISITOR_NAME_LIMIT = Visitor._meta.get_field("name").max_length


@dataclass
class VisitResult:
    visit: Visit
    created: bool


def _area(code: str, field: str = "area") -> FunctionArea:
    area = FunctionArea.objects.filter(code=clean(code), is_active=True).first()
    if area is None:
        raise ServiceError("disputes.area_unknown", _("Choose one of the function areas."), field=field)
    return area


def _check_window(actor, centre: ServiceCentre) -> None:
    role = role_of(actor)
    if role == "administrator":
        return
    if role != "intake_operator" or getattr(actor, "org_unit_id", None) != centre.org_unit_id:
        raise PermissionDeniedError(
            "disputes.not_your_centre",
            _("Only the window operators of this service centre may register visits."),
        )


def visit_register(
    *,
    actor,
    centre: ServiceCentre,
    area_code: str,
    matter: str,
    visitor_name: str,
    visitor_id_number: str = "",
    visitor_phone: str = "",
    visitor_person=None,
    idempotency_key: str,
) -> VisitResult:
    """Register a matter at the window and queue it at ``area_code`` (or return the earlier identical call's visit).

    The visitor is registered once, city-wide: a known ID number (matched by its keyed hash)
    reuses the ``Visitor`` row (its name changes only with a registry pick). Contact details
    stay with the centre they were given to: the visit keeps the name and phone given this time
    (``visitor_name`` / ``visitor_phone``); a visitor who gives no phone has the one *this
    centre* recorded at their latest earlier visit, never one another centre recorded (see
    ``_phone_on_record``). The register event says what changed (``visitor_changed``, masked):
    the name, and the phone against this centre's record only.
    ``idempotency_key`` (the form's one-time token, or the client's request id; at most
    ``MAX_IDEMPOTENCY_KEY`` characters, ``disputes.idempotency_key_long`` otherwise) makes a
    retried or double-clicked registration return the first visit with ``created=False``; the
    same key with other content is ``disputes.idempotency_key_reused`` (422).

    ``visitor_person`` is the id of a registry person the operator picked (resolved through
    the operator's registry scope, ``disputes.registry_not_found`` otherwise): the visitor's
    name and ID number (and the phone, unless one is typed) come from the registry. A typed
    ID number the registry knows links the visitor to that person.
    """
    _check_window(actor, centre)
    client_key = idempotency_key_clean(idempotency_key)
    if not client_key:
        raise ServiceError("disputes.idempotency_key_required", _("The request has no idempotency key."))
    key = f"visit:{centre.pk}:{client_key}"
    # What was typed or picked (not the registry's values: a record updated before a retry does
    # not make the retry another visit).
    request_fingerprint = fingerprint(
        {
            "area": clean(area_code),
            "matter": clean(matter),
            "visitor_name": clean(visitor_name),
            "visitor_id_number": clean(visitor_id_number).upper(),
            "visitor_phone": clean(visitor_phone),
            "visitor_person": clean(visitor_person),
        }
    )
    existing = Visit.objects.filter(idempotency_key=key).first()
    if existing is not None:
        check_same_request(existing.idempotency_fingerprint, request_fingerprint, client_key)
        return VisitResult(existing, False)
    errors = ErrorList()
    person = None
    try:
        person = picked_person(actor=actor, pk=visitor_person, field="visitor_name")
    except ServiceError as error:
        errors.add(error.field, error.code, error.message)
    picked = person is not None
    if person is not None:
        visitor_name, visitor_id_number = person.name, person.id_number
        visitor_phone = clean(visitor_phone) or person.phone
    name = clean(visitor_name)
    if not name and person is None and not errors.errors:
        errors.add("visitor_name", "disputes.required", _("Enter the visitor's name."))
    elif len(name) > VISITOR_NAME_LIMIT:  # PostgreSQL refuses the row (a 500), SQLite would keep it
        errors.add(
            "visitor_name",
            "disputes.too_long",
            _("At most %(limit)d characters.") % {"limit": VISITOR_NAME_LIMIT},
        )
    text = clean(matter)
    if not text:
        errors.add("matter", "disputes.required", _("Describe the matter."))
    id_number = clean(visitor_id_number)
    if id_number:
        try:
            id_number = validate_id_number(id_number, field="visitor_id_number")
        except ServiceError as error:
            errors.add("visitor_id_number", error.code, error.message)
            id_number = ""
    if person is None and id_number:
        person = person_for_id_number(id_number)
    phone = parse_phone(visitor_phone, "visitor_phone", errors)
    try:
        area = _area(area_code)
    except ServiceError as error:
        errors.add("area", error.code, error.message)
    errors.raise_if_any("disputes.invalid")
    now = timezone.now()
    try:
        with transaction.atomic():
            visitor, changes = _visitor(name=name, id_number=id_number, person=person, picked=picked)
            on_record = _phone_on_record(visitor, centre)
            if on_record is not None and phone and phone != on_record:
                changes["phone"] = {
                    "from": mask_phone(on_record) if on_record else "",
                    "to": mask_phone(phone),
                }
            visit = Visit.objects.create(
                number=next_number("CF", now),
                centre=centre,
                visitor=visitor,
                # As given at this visit; one who gave no phone has the one this centre recorded.
                visitor_name=name,
                visitor_phone=phone or on_record or "",
                area=area,
                matter=text,
                idempotency_key=key,
                idempotency_fingerprint=request_fingerprint,
                registered_by=actor,
                registered_at=now,
            )
            queued = SystemText(texts.VISIT_QUEUED, {"area": area.name})
            VisitEvent.objects.create(
                visit=visit,
                actor=actor,
                action=VisitAction.REGISTER,
                from_state="",
                to_state=VisitStatus.WAITING,
                note=queued.stored,
                payload={
                    "area": area.code,
                    "returning_visitor": visitor.visits.count() > 1,
                    **({"visitor_changed": changes} if changes else {}),
                    **queued.note_keys(),
                },
                at=now,
            )
    except IntegrityError:
        existing = Visit.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        check_same_request(existing.idempotency_fingerprint, request_fingerprint, client_key)
        return VisitResult(existing, False)
    return VisitResult(visit, True)


def _visitor(*, name: str, id_number: str, person=None, picked: bool = False) -> tuple[Visitor, dict]:
    """The visitor registered once (found again by ID number), and what this visit changed on it.

    The row says who the person is, for every centre: name, ID number (and its hash), the
    registry link. It keeps no contact details (``Visitor.phone`` is no longer written: a phone
    is on the visits of the centre it was given to), so nothing one centre recorded reaches
    another through it, and nothing typed at one centre overwrites what another keeps. The name
    is replaced only by a registry pick (``picked``): a name typed at another centre may be a
    typo or a nickname, and each visit keeps its own (``Visit.visitor_name``); a blank value
    never replaces a stored one. The changes come back as ``{field: {"from": …, "to": …}}``,
    masked, for the register event.
    """
    if id_number:
        digest = keyed_hash(id_number)
        visitor = Visitor.objects.select_for_update().filter(id_hash=digest).first()
        if visitor is not None:
            return visitor, _refresh(visitor, name=name, person=person, picked=picked)
        try:
            with transaction.atomic():  # a savepoint: another window may register the same person right now
                return Visitor.objects.create(
                    name=name, id_number=id_number, id_hash=digest, person=person
                ), {}
        except IntegrityError:
            visitor = Visitor.objects.select_for_update().get(id_hash=digest)
            return visitor, _refresh(visitor, name=name, person=person, picked=picked)
    return Visitor.objects.create(name=name, person=person), {}


def _refresh(visitor: Visitor, *, name: str, person, picked: bool) -> dict:
    """Bring a returning visitor up to date (see ``_visitor``); the masked changes."""
    changes, fields = {}, []
    if person is not None and visitor.person_id != person.pk:
        visitor.person = person
        fields.append("person")
    if picked and name and visitor.name != name:
        changes["name"] = {"from": mask_name(visitor.name), "to": mask_name(name)}
        visitor.name = name
        fields.append("name")
    if fields:
        visitor.save(update_fields=fields)
    return changes


def _phone_on_record(visitor: Visitor, centre: ServiceCentre) -> str | None:
    """The phone ``centre`` has on record for ``visitor``: the one given at their latest earlier
    visit there that gave one ("" when none did), or None when they never came to this centre.

    Only this centre's own visits count: a visitor registered elsewhere who gives this centre
    no phone has none here (a window sees the contact details the visitor gave it, and no
    other centre's), and a visit without a phone never wipes the one an earlier visit gave.
    """
    here = Visit.objects.filter(visitor=visitor, centre=centre)
    phone = (
        here.exclude(visitor_phone="")
        .order_by("-registered_at", "-pk")
        .values_list("visitor_phone", flat=True)
        .first()
    )
    if phone:
        return phone
    return "" if here.exists() else None


@transaction.atomic
def visit_call(*, visit: Visit, actor) -> Visit:
    """Call the next visitor to the desk (waiting → being served)."""
    visit.served_at = timezone.now()
    VISIT_WORKFLOW.apply(
        visit, VisitAction.CALL, actor=actor, timeline_model=VisitEvent, update_fields=["served_at"]
    )
    return visit


@transaction.atomic
def visit_route(*, visit: Visit, actor, area_code: str, note: str = "") -> Visit:
    """Send the matter to another function area's queue (转办); it waits there."""
    area = _area(area_code)
    if area.pk == visit.area_id:
        raise ServiceError("disputes.same_area", _("The visit already waits at this area."), field="area")
    previous = visit.area
    visit.area = area
    note, payload = clean(note), {"from": previous.code, "to": area.code}
    if not note:  # no words given: the system's, worded for each reader
        routed = SystemText(texts.VISIT_ROUTED, {"from": previous.name, "to": area.name})
        note, payload = routed.stored, {**payload, **routed.note_keys()}
    VISIT_WORKFLOW.apply(
        visit,
        VisitAction.ROUTE,
        actor=actor,
        timeline_model=VisitEvent,
        note=note,
        payload=payload,
        update_fields=["area"],
    )
    return visit


@transaction.atomic
def visit_complete(*, visit: Visit, actor, note: str) -> Visit:
    """The desk has dealt with the matter (advice given, referred on paper…)."""
    visit.outcome_note = clean(note)
    if not visit.outcome_note:
        raise ServiceError("disputes.required", _("Say how the matter was dealt with."), field="note")
    visit.done_at = timezone.now()
    VISIT_WORKFLOW.apply(
        visit,
        VisitAction.COMPLETE,
        actor=actor,
        timeline_model=VisitEvent,
        note=visit.outcome_note,
        update_fields=["outcome_note", "done_at"],
    )
    return visit
