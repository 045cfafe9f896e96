"""A data steward decides a registration kept for review (``RegistrationReview``).

A grid worker registered a person whose ID number is on a record they may not change (outside
their jurisdiction, or with no known place): the record was left as it was and what they gave was
kept. The steward, who sees the whole record, decides:

* **moved** — the person lives at the given address now: the record moves there (the current
  residence ends the day before ``since``, ``places.move_end``; a new one starts; a ``move`` history
  row; a ``since`` not after the current residence's start is refused, ``registry.since_before_current``,
  and an ended residence reaching into the new one — a move-out noticed after the person left —
  ends the day before too, unless it began on or after ``since``: ``registry.since_before_previous``,
  the review waits; ``places.cut_short``) and the fields empty on the record are
  filled from the registration (an ``update`` history row naming the registering department); a
  field given with another value than the record's is not taken (a registration is no correction):
  the steward corrects it on the person page if it is right;
* **declined** — a wrong number or a false registration: nothing changes.

Either way the review is closed with who decided and when; the record's history says the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import Conflict, ServiceError
from zhiwang.registry.hashing import phone_hash
from zhiwang.registry.models import Person, RecordKind, RegistrationReview, Residence, ReviewStatus
from zhiwang.registry.services.access import _denied, may_import
from zhiwang.registry.services.history import PERSON_FIELDS, _tidy_source, change_row, diff
from zhiwang.registry.services.people import person_move
from zhiwang.registry.services.places import (
    SINCE_BEFORE_CURRENT,
    SINCE_BEFORE_PREVIOUS,
    SinceBeforeCurrent,
    SinceBeforePrevious,
    cut_short,
    latest_start,
)
from zhiwang.registry.validation import masked

EMPTY = ("", None)


def review_differences(review: RegistrationReview, person: Person) -> list[str]:
    """The fields the registration gives with another value than the record's (not taken on a move)."""
    given = review.values or {}
    return [
        name
        for name in PERSON_FIELDS
        if given.get(name) not in EMPTY
        and getattr(person, name) not in EMPTY
        and getattr(person, name) != given[name]
    ]


def review_fill(review: RegistrationReview, person: Person) -> dict:
    """The fields a confirmation would fill: given by the registration and empty on the record."""
    given = review.values or {}
    return {
        name: given[name]
        for name in PERSON_FIELDS
        if given.get(name) not in EMPTY and getattr(person, name) in EMPTY
    }


def review_since(review: RegistrationReview) -> date | None:
    """The day the registration says the person came to the address given (None: not given)."""
    since = (review.values or {}).get("since")
    return date.fromisoformat(since) if since else None


@dataclass
class ReviewPreview:
    """What confirming a registration would do, as the stewards' queue shows it before they decide.

    ``fills``: ``(field, masked value)`` of the fields that would be filled (``validation.masked``:
    phones masked, as the history shows them); ``differs``: the fields given with another value,
    not taken; ``since``: the move's first day as given; ``blocked_since``: the current residence's
    start when the move would be refused (``registry.since_before_current``: the date given, or
    today, is not after it), else None; ``blocked_previous``: likewise the start of an ended
    residence the move would overlap and may not cut short (``registry.since_before_previous``,
    ``places.cut_short``), else None."""

    review: RegistrationReview
    fills: list[tuple[str, str]] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    since: date | None = None
    blocked_since: date | None = None
    blocked_previous: date | None = None


def review_previews(reviews) -> list[ReviewPreview]:
    """A ``ReviewPreview`` for each of ``reviews`` (their persons loaded), in one query for all the
    current residences."""
    reviews = list(reviews)
    current: dict[int, list[Residence]] = {}
    moving = {r.person_id for r in reviews if r.address_id is not None}
    ended: dict[int, list[Residence]] = {}
    for residence in Residence.objects.filter(person_id__in=moving).order_by():
        (current if residence.until is None else ended).setdefault(residence.person_id, []).append(residence)
    today = timezone.localdate()
    previews = []
    for review in reviews:
        person = review.person
        preview = ReviewPreview(
            review=review,
            fills=[(name, masked(name, value)) for name, value in review_fill(review, person).items()],
            differs=review_differences(review, person),
            since=review_since(review),
        )
        stays = current.get(review.person_id, [])
        # the same address again only confirms the residence (``person_move``): never refused
        if review.address_id is not None and all(s.address_id != review.address_id for s in stays):
            start = latest_start(stays)
            if start is not None and (preview.since or today) <= start:
                preview.blocked_since = start
            try:
                cut_short(preview.since or today, ended.get(review.person_id, []), today=today)
            except SinceBeforePrevious as error:
                preview.blocked_previous = error.start
        previews.append(preview)
    return previews


@transaction.atomic
def registration_review_resolve(*, review: RegistrationReview, actor, moved: bool) -> RegistrationReview:
    """Close ``review``: the person moved to the given address (``moved``), or the registration is declined."""
    if not may_import(actor):
        raise _denied(_("Only data stewards decide registrations kept for review."))
    review = RegistrationReview.objects.select_for_update().get(pk=review.pk)
    if review.status != ReviewStatus.PENDING:
        raise Conflict("registry.already_resolved", _("Somebody decided this registration already."))
    if moved:
        person = Person.objects.select_for_update().get(pk=review.person_id)
        given = review.values or {}
        changes = diff(person, review_fill(review, person), PERSON_FIELDS)
        note = _("Registration #%(review)s confirmed by a data steward.") % {"review": review.pk}
        if changes:
            person.phone_hash = phone_hash(person.phone)
            person.version += 1
            change_row(
                RecordKind.PERSON,
                person.pk,
                "update",
                changes=changes,
                actor=actor,
                source=review.source,
                note=note,
            ).save()
        person.last_confirmed_at = timezone.now()
        if person.source_id is None and review.source_id is not None:
            person.source = review.source
        person.save()
        _tidy_source(person, review.source, None, RecordKind.PERSON)
        if review.address_id is not None:
            since = given.get("since")
            try:
                person_move(
                    person=person,
                    address=review.address,
                    actor=actor,
                    since=date.fromisoformat(since) if since else None,
                    source=review.source,
                )
            except SinceBeforeCurrent as error:
                # The steward cannot change the registration's date: say what it is and what to do.
                raise ServiceError(
                    SINCE_BEFORE_CURRENT,
                    _(
                        "The registration dates the move %(since)s, but the current residence began on "
                        "%(start)s: a move must start after that day. The record was not moved and the "
                        "registration still waits; decline it if the record is right."
                    )
                    % {"since": since or _("today (no date given)"), "start": error.start.isoformat()},
                    field="since",
                ) from None
            except SinceBeforePrevious as error:
                raise ServiceError(
                    SINCE_BEFORE_PREVIOUS,
                    _(
                        "The registration dates the move %(since)s, but the previous residence began on "
                        "%(start)s (it ended on %(until)s): a move must start after %(start)s. The record "
                        "was not moved and the registration still waits; decline it if the record is right."
                    )
                    % {
                        "since": since or _("today (no date given)"),
                        "start": error.start.isoformat(),
                        "until": error.until.isoformat(),
                    },
                    field="since",
                ) from None
    review.status = ReviewStatus.MOVED if moved else ReviewStatus.DECLINED
    review.resolved_by = actor
    review.resolved_at = timezone.now()
    review.save(update_fields=["status", "resolved_by", "resolved_at"])
    return review
