"""Writes about people: register, correct, move, move out, reveal (logged), tag with a key group."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.masking import mask_id_number
from zhiwang.geo.models import StandardAddress
from zhiwang.registry.hashing import id_number_hash, phone_hash
from zhiwang.registry.models import (
    AccessLog,
    Person,
    PersonTag,
    RecordChange,
    RecordKind,
    RegistrationReview,
    Residence,
    ReviewStatus,
)
from zhiwang.registry.services.access import (
    _check_version,
    _denied,
    _insert_or_existing,
    may_edit,
    may_reveal,
)
from zhiwang.registry.services.audit import (
    REGISTER_NEW_ACTION,
    REGISTER_REFERRED_ACTION,
    identifier_register_logged,
    identifier_register_refused_logged,
    registration_limit_error,
    registration_limit_reached,
)
from zhiwang.registry.services.history import PERSON_FIELDS, _tidy_source, change_row, diff
from zhiwang.registry.services.places import (
    _address_or_error,
    _check_place_allowed,
    _place,
    cut_short,
    ended_from,
    move_end,
    move_since,
)
from zhiwang.registry.services.registering import (
    RegisterLimited,
    RegistrationReferred,
    fill_empty,
    may_update_on_register,
    sees_whole_city,
)
from zhiwang.registry.validation import clean_person


def person_register(*, actor, source=None, data: dict, note: str = "") -> tuple[Person, bool]:
    """Create a person, or answer the one with this ID number (idempotent by the ID number's hash).

    ``data`` holds raw values (see ``validation.FIELDS``); ``address`` (code or text) sets the
    current residence. Answers (person, created).

    A known number is never overwritten (``services.registering``): fields empty on the record
    are filled, and a field given with another value answers ``registry.already_registered``
    (409, the record's id, nothing written: correct the record instead, with a note and the
    version). When the number belongs to a record the caller may not change (outside their
    jurisdiction, or without a known place and the caller no data steward), the record is left
    as it was and the registration is kept for the data stewards: ``RegistrationReferred`` is
    raised (not an error: the ``RegistrationReview`` is committed, an ``AccessLog`` row
    ``register_referred`` is on the record), and entry points answer it like a new number.

    For a caller who does not see the whole city, registering a number not on record in their
    jurisdiction (new, or held elsewhere) counts against the hourly registration limit
    (``services.audit``): beyond it ``registry.register_limit`` (429), nothing written, whether the
    number is on record or not.
    """
    try:
        person, created, review = _person_register(actor=actor, source=source, data=data, note=note)
    except RegisterLimited as error:
        identifier_register_refused_logged(actor=actor, key=error.key, shown=error.shown)
        raise registration_limit_error(field="id_number") from None
    if review is not None:
        raise RegistrationReferred(review)
    return person, created


def _check_register_limit(actor, key: str, id_number: str) -> None:
    if not sees_whole_city(actor) and registration_limit_reached(actor, key):
        raise RegisterLimited(key, mask_id_number(id_number))


def _review_create(*, person: Person, actor, source, values: dict, address, why: str, note: str):
    """Keep what the caller gave for the data stewards (``services.reviews``); the record is untouched."""
    given = {name: values[name] for name in PERSON_FIELDS if values.get(name) not in ("", None)}
    if values.get("since") is not None:
        given["since"] = values["since"].isoformat()
    # The same caller registering the same person again (a retry, a corrected address) updates
    # their waiting registration: one line per person and caller in the stewards' queue.
    review = (
        RegistrationReview.objects.select_for_update()
        .filter(person=person, registered_by=actor, status=ReviewStatus.PENDING)
        .first()
    )
    if review is None:
        review = RegistrationReview(person=person, registered_by=actor)
    review.address, review.values, review.why, review.source, review.note = address, given, why, source, note
    review.save()
    identifier_register_logged(
        actor=actor,
        action=REGISTER_REFERRED_ACTION,
        record_id=person.pk,
        key=person.id_number_hash,
        shown=person.masked_id_number,
        review=review,
    )
    return review


@transaction.atomic
def _person_register(*, actor, source, data: dict, note: str):
    if actor is not None and not may_edit(actor):
        raise _denied(_("You may not change registry records."))
    cleaned = clean_person(data)
    cleaned.raise_if_errors()
    values = cleaned.values
    address = _address_or_error(data.get("address"))
    _check_place_allowed(actor, address)
    key = id_number_hash(values["id_number"])
    person = Person.objects.select_for_update().filter(id_number_hash=key).first()
    # Up to here every number is answered alike; from here on a number the caller cannot see (on
    # record nowhere, or on a record they may not change) counts against the limit, either way.
    limit_checked = person is None or not may_update_on_register(actor, person)
    if limit_checked:
        _check_register_limit(actor, key, values["id_number"])
    created = False
    if person is None:
        person = Person(
            id_number=values["id_number"],
            id_number_hash=key,
            name=values["name"],
            gender=values["gender"],
            birth_date=values["birth_date"],
            source=source,
        )
        for name in PERSON_FIELDS:
            if name in values:
                setattr(person, name, values[name])
        person.phone_hash = phone_hash(person.phone)
        _place(person, address)
        person, created = _insert_or_existing(person, Person.objects.filter(id_number_hash=key))
    if created:
        RecordChange.objects.bulk_create(
            [change_row(RecordKind.PERSON, person.pk, "create", actor=actor, source=source, note=note)]
        )
        if not sees_whole_city(actor):
            identifier_register_logged(
                actor=actor,
                action=REGISTER_NEW_ACTION,
                record_id=person.pk,
                key=key,
                shown=person.masked_id_number,
            )
    elif not may_update_on_register(actor, person):
        if not limit_checked:  # another request committed it since the lookup
            _check_register_limit(actor, key, values["id_number"])
        why = "unplaced" if person.community_id is None and person.grid_id is None else "outside"
        review = _review_create(
            person=person, actor=actor, source=source, values=values, address=address, why=why, note=note
        )
        return person, False, review
    else:
        changes = fill_empty(
            person,
            values,
            PERSON_FIELDS,
            actor=actor,
            kind=RecordKind.PERSON,
            message=_(
                "This ID number is already registered with other details. Read the record and correct "
                "it instead (a correction needs a note and the version you read)."
            ),
        )
        person.phone_hash = phone_hash(person.phone)
        person.last_confirmed_at = timezone.now()
        if person.source_id is None and source is not None:
            person.source = source  # provenance is filled, never replaced (the statement is below)
        if changes:
            person.version += 1
            RecordChange.objects.bulk_create(
                [
                    change_row(
                        RecordKind.PERSON,
                        person.pk,
                        "update",
                        changes=changes,
                        actor=actor,
                        source=source,
                        note=note,
                    )
                ]
            )
        person.save()
    _tidy_source(person, source, None, RecordKind.PERSON)
    if address is not None:
        person_move(person=person, address=address, actor=actor, since=values.get("since"), source=source)
    return person, created, None


@transaction.atomic
def person_correct(
    *,
    person: Person,
    actor,
    data: dict,
    note: str,
    expected_version: int | None = None,
    source=None,
) -> Person:
    """A correction on the spot (grid worker, data steward): changed fields and a reason, history kept.

    ``expected_version`` is the version the editor saw and is required: without it a
    correction made on an old copy would silently overwrite a newer one. ``source``: the
    department whose value the correction takes (a settled merge conflict), named on the
    history row as who set it (``value_sources``).

    The ID number is the natural key and cannot be corrected here (register the right
    number and end the wrong record's residence instead).
    """
    if not may_edit(actor, person):
        raise _denied(_("You may not change this record."))
    if not (note or "").strip():
        raise ServiceError("registry.note_required", _("Say what you corrected and why."), field="note")
    person = Person.objects.select_for_update().get(pk=person.pk)
    _check_version(person, expected_version)  # required: registry.version_required without one
    raw = {k: v for k, v in data.items() if k in (*PERSON_FIELDS, "id_number")}
    raw["id_number"] = person.id_number
    raw.setdefault("name", person.name)
    cleaned = clean_person(raw)
    cleaned.raise_if_errors()
    changes = diff(person, cleaned.values, PERSON_FIELDS)
    if not changes:
        raise ServiceError("registry.nothing_changed", _("Nothing was changed."))
    person.phone_hash = phone_hash(person.phone)
    person.version += 1
    person.last_confirmed_at = timezone.now()
    person.save()
    change_row(
        RecordKind.PERSON,
        person.pk,
        "correct",
        changes=changes,
        actor=actor,
        source=source,
        note=note.strip(),
    ).save()
    return person


@transaction.atomic
def person_move(
    *,
    person: Person,
    address: StandardAddress,
    actor=None,
    since: date | None = None,
    kind: str = "living",
    source=None,
) -> Residence:
    """The person now lives at ``address`` from ``since`` (today when not known): the current
    residence ends the day before (``places.move_end``: the two never share a day), a new
    one starts, a ``move`` history row names both addresses.

    ``since`` must be after the current residence's start (``places.move_since``): otherwise
    ``registry.since_before_current`` on ``since``. An ended residence whose last day is on or
    after ``since`` (a move-out noticed after the person left) ends the day before too
    (``places.cut_short``) when it began before ``since``, otherwise
    ``registry.since_before_previous`` on ``since``. Both refusals are raised before anything is
    written here (the callers' own writes roll back with them)."""
    current = list(
        Residence.objects.filter(person=person, until__isnull=True).select_related("address").order_by("pk")
    )
    for residence in current:
        if residence.address_id == address.pk:
            residence.last_confirmed_at = timezone.now()
            residence.save(update_fields=["last_confirmed_at"])
            return residence
    since = move_since(since, current)
    # Ended residences reaching into the new one (a move-out noticed after the person left) end
    # the day before it too: never a day in two rooms (``places.cut_short``).
    ended = cut_short(since, ended_from(person.pk, since))
    for residence in [*current, *ended]:
        Residence.objects.filter(pk=residence.pk).update(
            until=move_end(since, residence.since), updated_at=timezone.now()
        )
    previous = current[0] if current else (ended[0] if ended else None)
    residence = Residence(person=person, address=address, kind=kind, since=since, source=source)
    _place(residence, address)
    residence.save()
    _place(person, address)
    Person.objects.filter(pk=person.pk).update(
        community_id=person.community_id, grid_id=person.grid_id, version=F("version") + 1
    )
    person.version += 1
    change_row(
        RecordKind.PERSON,
        person.pk,
        "move",
        changes={"address": [previous.address.full_name if previous else "", address.full_name]},
        actor=actor,
        source=source,
    ).save()
    return residence


@transaction.atomic
def person_move_out(*, person: Person, actor, note: str = "") -> int:
    """The person no longer lives at the current address (moved away, unknown where): each current
    residence ends the day before today (``places.move_end``, as a move from today would end it), so
    a registration at the new address the same day, which starts today, never shares a day with it
    (the person listed in two rooms). A residence that began today ends today, its only day: a new
    residence follows it from tomorrow on (``places.cut_short``)."""
    if not may_edit(actor, person):
        raise _denied(_("You may not change this record."))
    today, now = timezone.localdate(), timezone.now()
    current = list(Residence.objects.filter(person=person, until__isnull=True).only("pk", "since"))
    for residence in current:
        Residence.objects.filter(pk=residence.pk).update(
            until=move_end(today, residence.since), updated_at=now
        )
    ended = len(current)
    change_row(RecordKind.PERSON, person.pk, "move_out", actor=actor, note=note).save()
    return ended


@transaction.atomic
def person_reveal(*, person: Person, actor, reason: str) -> dict[str, str]:
    """The unmasked ID number and phone, for somebody allowed, with a reason; logged (who, whom, when, why)."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("registry.reason_required", _("Say why you need the full data."), field="reason")
    if not may_reveal(actor, person):
        raise _denied(_("You may not see this person's full data."))
    AccessLog.objects.create(
        record_kind=RecordKind.PERSON,
        record_id=person.pk,
        actor=actor,
        action="reveal",
        from_state="",
        to_state="",
        note=reason,
        payload={"fields": ["id_number", "phone"]},
    )
    return {"id_number": person.id_number, "phone": person.phone}


@transaction.atomic
def person_tag(*, person: Person, actor, group: str, since: date | None = None, note: str = "") -> PersonTag:
    """Tag a person with a key group (for the care modules)."""
    if not may_edit(actor, person):
        raise _denied(_("You may not change this record."))
    tag, created = PersonTag.objects.get_or_create(
        person=person, group=group, defaults={"since": since or timezone.localdate(), "note": note}
    )
    if created:
        change_row(RecordKind.PERSON, person.pk, "tag", changes={"tag": ["", group]}, actor=actor).save()
    return tag
