"""Where a record is: a standard address from a code or free text, copied onto the record for scoping."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import FieldError, ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.addressing import match_address
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.registry.models import Residence
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


#: A new residence of a person that would not start after the previous (ended) residence began.
SINCE_BEFORE_PREVIOUS = "registry.since_before_previous"


class SinceBeforePrevious(ServiceError):
    """``registry.since_before_previous``: the new residence was refused, nothing written; ``start``
    and ``until`` are the first and last day of the ended residence it would overlap."""

    def __init__(self, error: FieldError, start: date, until: date):
        super().__init__(error.code, error.message, field=error.field)
        self.start, self.until = start, until


def since_before_previous(start: date, until: date, today: date) -> FieldError:
    """The field error on ``since`` of a new residence that would not start after the previous
    (ended) residence's ``start``: give a later date (or none: today), or, when that residence began
    and ended today, register from tomorrow on."""
    if start >= today:
        message = _(
            "The previous residence began and ended today (%(start)s): a residence at another address "
            "can be recorded from tomorrow on."
        ) % {"start": start.isoformat()}
    else:
        message = _(
            "The previous residence began on %(start)s and ended on %(until)s: a new residence must "
            "start after %(start)s. Give a later date, or none for today."
        ) % {"start": start.isoformat(), "until": until.isoformat()}
    return FieldError(field="since", code=SINCE_BEFORE_PREVIOUS, message=message)


def cut_short(since: date, ended, *, today: date | None = None) -> list:
    """The ended residences among ``ended`` that a new residence from ``since`` overlaps (their last
    day on or after ``since``): the caller ends them the day before ``since`` (``move_end``).

    A residence ends without a move when the person moves out (``person_move_out``) or an undated
    import row moves them (``imports.writers``): its last day then says when it was *noticed*
    ("gone by then"), not when the person left. A dated registration after it — "here since
    2026-11-10", the residence ended 2026-11-20 by a move-out recorded on the 21st — is the more
    precise statement, and the history becomes what it would have been had the registration come
    first: the ended residence ends 11-09, the new one starts 11-10, never a day in two rooms. As
    for a current residence (``move_since``), the new start must come after the ended residence's
    start, else ``registry.since_before_previous`` on ``since`` (nothing written; an import keeps
    the person where the registry has them and reports the row): a residence that began and ended
    today (placed and moved out the same day) is followed from tomorrow on."""
    today = today or timezone.localdate()
    overlapping = [stay for stay in ended if stay.until is not None and stay.until >= since]
    latest = latest_start(overlapping)
    if latest is not None and since <= latest:
        until = max(stay.until for stay in overlapping if stay.since == latest)
        raise SinceBeforePrevious(since_before_previous(latest, until, today), latest, until)
    return overlapping


def ended_from(person_id: int, since: date):
    """The person's ended residences whose last day is on or after ``since`` (``cut_short``), locked."""
    return list(
        Residence.objects.select_for_update(of=("self",))
        .filter(person_id=person_id, until__gte=since)
        .select_related("address")
        .order_by("-until", "-pk")
    )


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
