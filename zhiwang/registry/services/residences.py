"""Correcting a person's current residence (更正居住地址): a typing mistake, not a move.

A grid worker who registered somebody in room 301 instead of 310 has two wrong tools without this:
a move, which invents a stay at 301 in the person's history (and is refused on the day the residence
began, ``places.move_since``), and a field correction, which does not hold the address. A correction
changes the current residence itself — its address, and its ``since`` when that was wrong too — and
appends one ``correct_residence`` history row (the address and the date, old → new, the reason, who,
when). No residence ends and none starts.

Which residences: the **current** one only, whenever it began. A typing mistake is found at the next
visit, which may be months later (door-to-door checks come round by quarter); a window of N days
would leave a move — the invented history this removes — as the only tool after it. Ended residences
are the record of where the person was and are not rewritten. Each correction is traced, needs a
reason, and is scoped to both addresses, so it cannot pull a person out of somebody else's area.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import StandardAddress
from zhiwang.registry.models import Person, RecordKind, Residence
from zhiwang.registry.services.access import _check_version, _denied, may_edit
from zhiwang.registry.services.history import change_row
from zhiwang.registry.services.places import SINCE_BEFORE_PREVIOUS, _address_or_error, _place
from zhiwang.registry.validation import clean_person, has_control

#: ``RecordChange.action`` of a residence correction (the history says 更正居住地址).
CORRECT_RESIDENCE = "correct_residence"
#: The longest reason a correction keeps (the web form's limit too).
NOTE_MAX = 500


def _covers(actor, address: StandardAddress) -> bool:
    scope = scope_of(actor)
    return scope.everything or scope.allows_grid(address.grid_id, address.community_id)


def _current_residence(person: Person) -> Residence:
    """The residence a correction changes: the person's current one (the latest started when an
    import left several open), locked."""
    residence = (
        Residence.objects.select_for_update()
        .filter(person=person, until__isnull=True)
        .select_related("address")
        .order_by(F("since").desc(nulls_last=True), "-pk")
        .first()
    )
    if residence is None:
        raise ServiceError(
            "registry.no_current_residence",
            _("This person has no current residence to correct. Register the address instead."),
            field="address",
        )
    return residence


def _cleaned(person: Person, address, since) -> tuple:
    """The address as given (a text as a registration reads it: at most 255 characters, no control
    character) and the start (a real date, not in the future nor before the birth date), by the
    registration's rules (``validation.clean_person``), every error on its field."""
    raw = {"id_number": person.id_number, "name": person.name}
    if isinstance(address, str):
        raw["address"] = address
    if since not in (None, ""):
        raw["since"] = since
    cleaned = clean_person(raw)
    cleaned.raise_if_errors()
    if isinstance(address, str):
        address = cleaned.values.get("address") or None
    return address, cleaned.values.get("since")


def _checked_since(person: Person, residence: Residence, since: date | None) -> date | None:
    """The corrected start (None: unchanged), after the end of the residence before it, so that the
    two stays never share a day (as ``places.move_end`` keeps them)."""
    if since is None or since == residence.since:
        return None
    previous_end = (
        Residence.objects.filter(person=person, until__isnull=False)
        .exclude(pk=residence.pk)
        .order_by("-until")
        .values_list("until", flat=True)
        .first()
    )
    if previous_end is not None and since <= previous_end:
        raise ServiceError(
            SINCE_BEFORE_PREVIOUS,
            _("The previous residence ended on %(until)s: the corrected residence must start after that day.")
            % {"until": previous_end.isoformat()},
            field="since",
        )
    return since


@transaction.atomic
def person_residence_correct(
    *,
    person: Person,
    actor,
    note: str,
    address=None,
    since=None,
    expected_version: int | None = None,
) -> Residence:
    """Correct the address (a code, a text or a ``StandardAddress``; None keeps it) and/or the start
    (``since``; None keeps it) of ``person``'s current residence: a typing mistake, so no move.

    Allowed to the roles that move a person (``may_edit``: grid worker, data steward, administrator)
    whose jurisdiction covers the person, the residence's address *and* the new address (403
    ``registry.permission_denied``, on ``address`` for the new one). ``note`` says what was wrong
    (``registry.note_required``, at most ``NOTE_MAX`` characters: ``registry.note_too_long``).
    ``expected_version`` is the person's version the editor saw, as for every correction
    (``registry.version_required`` / 409 ``registry.version_conflict``); the person's version goes
    up. Other refusals: ``address.unmatched`` and ``too_long`` (255 characters) on ``address``,
    ``registry.no_current_residence`` (on ``address``),
    the date rules on ``since`` (``date.future``, ``date.too_early``, ``since.before_birth``,
    ``registry.since_before_previous``), ``registry.nothing_changed``. Nothing is written when refused.
    """
    if not may_edit(actor, person):
        raise _denied(_("You may not change this record."))
    note = (note or "").strip()
    if not note:
        raise ServiceError("registry.note_required", _("Say what you corrected and why."), field="note")
    if has_control(note):  # a NUL above all: PostgreSQL refuses it in text (a 500, not an answer)
        raise ServiceError(
            "text.control_character",
            _("The value holds a control character (such as NUL); remove it."),
            field="note",
        )
    if len(note) > NOTE_MAX:
        raise ServiceError(
            "registry.note_too_long", _("At most %(limit)d characters.") % {"limit": NOTE_MAX}, field="note"
        )
    person = Person.objects.select_for_update().get(pk=person.pk)
    _check_version(person, expected_version)  # required: registry.version_required without one
    residence = _current_residence(person)
    if not _covers(actor, residence.address):
        # the person is placed in the caller's area but this residence is not (an import left two open)
        raise _denied(_("The current address is outside your jurisdiction."))
    address, since = _cleaned(person, address, since)
    new_address = _address_or_error(address)
    if new_address is not None and not _covers(actor, new_address):
        raise PermissionDeniedError(
            "registry.permission_denied", _("This address is outside your jurisdiction."), field="address"
        )
    new_since = _checked_since(person, residence, since)
    changes = {}
    if new_address is not None and new_address.pk != residence.address_id:
        changes["address"] = [residence.address.full_name, new_address.full_name]
        residence.address = new_address
        _place(residence, new_address)
        _place(person, new_address)
    if new_since is not None:
        changes["since"] = [residence.since.isoformat() if residence.since else "", new_since.isoformat()]
        residence.since = new_since
    if not changes:
        raise ServiceError("registry.nothing_changed", _("Nothing was changed."))
    now = timezone.now()
    residence.version += 1
    residence.last_confirmed_at = now
    residence.save()
    person.version += 1
    person.last_confirmed_at = now
    person.save(update_fields=["community", "grid", "version", "last_confirmed_at", "updated_at"])
    change_row(
        RecordKind.PERSON, person.pk, CORRECT_RESIDENCE, changes=changes, actor=actor, note=note
    ).save()
    return residence
