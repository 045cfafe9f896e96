"""Where a record is: a standard address from a code or free text, copied onto the record for scoping."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import FieldError, ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.addressing import match_address
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry.services.access import _denied


def resolve_address(value) -> StandardAddress | None:
    """A standard address from its code, a StandardAddress, or free text (at least a building)."""
    if value is None or value == "":
        return None
    if isinstance(value, StandardAddress):
        return value
    text = str(value).strip()
    found = StandardAddress.objects.filter(code=text).first()
    if found is not None:
        return found
    result = match_address(text)
    if result.address is not None and result.level in (
        AddressLevel.ROOM,
        AddressLevel.UNIT,
        AddressLevel.BUILDING,
    ):
        return result.address
    return None


def _address_or_error(value, field: str = "address") -> StandardAddress | None:
    if value in (None, ""):
        return None
    address = resolve_address(value)
    if address is None:
        raise ServiceError(
            "address.unmatched",
            _("No standard address (building, unit or room) matches “%(text)s”.") % {"text": str(value)[:80]},
            field=field,
        )
    return address


def _place(record, address: StandardAddress | None) -> None:
    record.community_id = address.community_id if address else None
    record.grid_id = address.grid_id if address else None


def _check_place_allowed(actor, address: StandardAddress | None) -> None:
    if actor is None or address is None:
        return
    scope = scope_of(actor)
    if not (scope.everything or scope.allows_grid(address.grid_id, address.community_id)):
        raise _denied(_("This address is outside your jurisdiction."))


#: A move of a person whose new residence would not start after the current one started.
SINCE_BEFORE_CURRENT = "registry.since_before_current"


def latest_start(stays) -> date | None:
    """The latest start among the current ``stays`` (residences) a move would end, None when none is known."""
    return max((stay.since for stay in stays if stay.since is not None), default=None)


class SinceBeforeCurrent(ServiceError):
    """``registry.since_before_current``: the move was refused, nothing written; ``start`` is the
    current residence's start (a caller with another audience words its own message)."""

    def __init__(self, error: FieldError, start: date):
        super().__init__(error.code, error.message, field=error.field)
        self.start = start


def since_before_current(start: date, today: date) -> FieldError:
    """The field error on ``since`` of a move that would not start after the current residence's
    ``start``: give a later date (or none: today), or, when it began today, move from tomorrow on."""
    if start >= today:
        message = _(
            "The current residence began today (%(start)s): a move to another address can be "
            "recorded from tomorrow on."
        ) % {"start": start.isoformat()}
    else:
        message = _(
            "The current residence began on %(start)s: a move must start after that day. "
            "Give a later date, or none for today."
        ) % {"start": start.isoformat()}
    return FieldError(field="since", code=SINCE_BEFORE_CURRENT, message=message)


def move_since(since: date | None, stays, *, today: date | None = None) -> date:
    """The first day of a person's new residence replacing the current ``stays``: ``since``, or
    ``today`` when not known.

    It must come after the latest current residence's start: the current one then ends the day
    before (``move_end``) and the two never share a day. A date on or before that start says the
    person came here before the registry's newer statement that they live there, so the move is
    refused (``registry.since_before_current`` on ``since``, nothing written) rather than written
    overlapping it; an import keeps the residence and reports the row (``imports.writers``). With
    no date, a residence that began today (placed earlier the same day) cannot be followed by a
    move until tomorrow: ending it the day before it began, or on its start day with the new one
    starting that day too, would be a stay of no day or two stays on one day.
    """
    today = today or timezone.localdate()
    start = since or today
    latest = latest_start(stays)
    if latest is not None and start <= latest:
        raise SinceBeforeCurrent(since_before_current(latest, today), latest)
    return start


def move_end(since: date, start: date | None) -> date:
    """The last day of a stay (a residence, an operation) that a move to a new place from ``since``
    ends: the day before, so the two stays never share a day. A person's move starts after the
    current residence's start (``move_since``), so the day before is never before it. An
    operation has no such check — operations imported before migration 0013 may still start on
    the entity's founding date (the entity template mapped 成立日期 to ``since`` then; it maps it to
    ``LegalEntity.founded_on`` now) — so an operation that began that day or later ends on its
    start day instead. ``person_move_out`` ends a residence with ``move_end(today, since)``: a
    residence that began today ends today."""
    day_before = since - timedelta(days=1)
    return day_before if start is None or day_before >= start else start
