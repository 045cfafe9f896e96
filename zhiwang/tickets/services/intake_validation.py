"""The submit pipeline's field rules: every problem of a submission reported at once.

Part of ``services.submit``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, ServiceError
from zhiwang.core.fingerprint import fingerprint, same_input
from zhiwang.tickets.cache import routing_config
from zhiwang.tickets.models import Category, Channel, TicketKind, Urgency, normalize_phone
from zhiwang.tickets.services.intake_memo import MISSING, remembered


def _clean(value: str | None) -> str:
    return (value or "").strip()


#: Longest accepted values; the database columns are the hard limit, this answers with a field error.
MAX_LENGTHS = {
    "title": 200,
    "description": 4000,
    "reporter_name": 64,
    "address_text": 255,
    "external_id": 120,
}


#: The earliest time received a submission may give (the hotline's history starts later; before
#: this a value is a typo, and one near ``datetime.min`` would overflow the duplicate window).
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)


#: The character no text column can hold: PostgreSQL refuses NUL, so one in a file's cell would
#: otherwise fail a whole batch. Other control characters are kept as written (the outputs drop
#: what their format cannot carry, e.g. Open311's XML).
_CONTROL = {"\x00"}


def reject_control_characters(values: dict) -> None:
    """Refuse a submission whose fields hold a NUL character (``_CONTROL``; each such field named)."""
    errors = ErrorList()
    for name, value in values.items():
        if isinstance(value, str) and not _CONTROL.isdisjoint(value):
            errors.add(
                name,
                "tickets.control_character",
                _("The NUL character (U+0000) is not allowed."),
            )
    errors.raise_if_any("tickets.invalid", _("The ticket has invalid fields."))


#: The free-text fields of a submission, cleaned by ``submission_texts``.
TEXT_FIELDS = ("description", "title", "reporter_name", "address_text", "external_id")


def submission_texts(**fields) -> dict[str, str]:
    """The free-text fields (``TEXT_FIELDS``) stripped, after every given field was checked for
    control characters (``reject_control_characters``): the first step of every intake path."""
    reject_control_characters(fields)
    return {name: _clean(fields.get(name)) for name in TEXT_FIELDS}


def _snapshot_category(code: str) -> tuple[Category | None, bool]:
    """``_category`` for a code, read from the process's routing snapshot alone (no query).

    For a check ahead of the real one (a queued submission is validated again, against the
    table, when it is written): at most the snapshot's interval behind the catalogue.
    """
    config = routing_config()
    by_code = getattr(config, "_active_by_code", None)
    if by_code is None:
        with_children = {c.parent_id for c in config.categories.values() if c.is_active and c.parent_id}
        by_code = {c.code: (c, c.pk in with_children) for c in config.categories.values() if c.is_active}
        object.__setattr__(config, "_active_by_code", by_code)  # frozen dataclass: one-off memo
    return by_code.get(code, (None, False))


def _category(category: Category | str | None) -> tuple[Category | None, bool]:
    """The active category (by code or instance) with its ancestors, and whether it has active children.

    Both "active" and "a leaf" are read from the table (one small query); the category
    itself comes from the process's snapshot of the catalogue (shared: read-only).
    """
    if category is None or category == "":
        return None, False
    if isinstance(category, Category) and not category.is_active:
        return None, False
    if isinstance(category, str):
        known = remembered("category", category.strip())  # read for the whole batch, if in one
        if known is not MISSING:
            return (None, False) if known is None else (routing_config().category(known[0]), known[1])
    qn = connection.ops.quote_name
    table = qn(Category._meta.db_table)
    column = "code" if isinstance(category, str) else "id"
    sql = (
        f"SELECT c.id, EXISTS (SELECT 1 FROM {table} k WHERE k.parent_id = c.id AND k.is_active) "
        f"FROM {table} c WHERE c.{qn(column)} = %s AND c.is_active"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [category.strip() if isinstance(category, str) else category.pk])
        row = cursor.fetchone()
    if row is None:
        return None, False
    return routing_config().category(row[0]), bool(row[1])


def _validate(
    *,
    channel: str,
    kind: str,
    category,
    urgency: str,
    texts: dict[str, str],
    reporter_phone: str,
    received_at: datetime | None,
    now: datetime,
    category_required: bool = True,
    category_from_snapshot: bool = False,
) -> tuple[Category | None, str]:
    """Every field rule at once (so a form shows all problems together); returns (category, phone).

    ``category_required=False``: no category is fine (the classifier will choose one later, as
    for a queued submission); one given must still be a leaf of the catalogue.
    ``category_from_snapshot``: a category code is checked against the routing snapshot only
    (``_snapshot_category``), for a check that is repeated when the ticket is written.
    """
    errors = ErrorList()
    if channel not in Channel.values:
        errors.add("channel", "tickets.channel_unknown", _("Unknown channel %(value)s.") % {"value": channel})
    if kind not in TicketKind.values:
        errors.add("kind", "tickets.kind_unknown", _("Unknown kind %(value)s.") % {"value": kind})
    if urgency not in Urgency.values:
        errors.add("urgency", "tickets.urgency_unknown", _("Unknown urgency %(value)s.") % {"value": urgency})
    given = not (category is None or category == "")
    if category_from_snapshot and isinstance(category, str) and category.strip():
        category, has_active_children = _snapshot_category(category.strip())
    else:
        category, has_active_children = _category(category)
    if category is None and (given or category_required):
        errors.add("category", "tickets.category_unknown", _("Choose a category from the catalogue."))
    elif has_active_children:
        errors.add(
            "category",
            "tickets.category_not_leaf",
            _("Choose the most specific category (%(name)s has subcategories).") % {"name": category.name},
        )
    elif category is None:
        pass  # none given and none required: the classifier chooses one later
    elif category.kinds and kind in TicketKind.values and kind not in category.kinds:
        errors.add(
            "kind",
            "tickets.kind_not_allowed",
            _("The category %(name)s is not used for this kind.") % {"name": category.name},
        )
    if len(texts["description"]) < 5:
        errors.add(
            "description", "tickets.description_short", _("Describe the problem in at least 5 characters.")
        )
    for name, limit in MAX_LENGTHS.items():
        if len(texts[name]) > limit:
            errors.add(
                name,
                f"tickets.{name}_long",
                _("At most %(limit)s characters, please (%(length)s given).")
                % {"limit": f"{limit:,}", "length": f"{len(texts[name]):,}"},
            )
    phone = normalize_phone(reporter_phone)
    if _clean(reporter_phone) and not phone:
        errors.add("reporter_phone", "tickets.phone_invalid", _("The phone number is not valid."))
    if received_at is not None:
        if timezone.is_naive(received_at):
            errors.add(
                "received_at", "tickets.received_naive", _("Give the time received with its time zone.")
            )
        elif received_at > now + timedelta(minutes=5):
            errors.add("received_at", "tickets.received_in_future", _("The time received is in the future."))
        elif received_at < EARLIEST_RECEIVED:
            errors.add(
                "received_at",
                "tickets.received_too_old",
                _("The time received must not be before %(date)s.") % {"date": "2000-01-01"},
            )
    errors.raise_if_any("tickets.invalid", _("The ticket has invalid fields."))
    return category, phone


# --- the same key with other content ----------------------------------------------------------


def _coordinate(value):
    """A coordinate as a number when it is one ("114.05" and 114.05 are one point), else as sent."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else str(value)


def submission_fingerprint(
    *,
    kind: str,
    category,
    urgency: str,
    texts: dict[str, str],
    phone: str,
    address_code: str,
    lon,
    lat,
    crs: str,
) -> str:
    """The fingerprint (``core.fingerprint``) of a submission's cleaned content, kept on its ticket.

    What the caller said, cleaned as the pipeline reads it: texts stripped, the phone normalized,
    a category by its code, a point as numbers (its ``crs`` only with a point). Not the key
    (channel and external id), nor the time received: a queued submission's is the moment it
    was accepted, so a retry that is written straight away could never repeat it.
    """
    point = not (_coordinate(lon) is None and _coordinate(lat) is None)
    code = category.code if isinstance(category, Category) else _clean(category or "")
    return fingerprint(
        {
            "kind": kind,
            "category": code,
            "urgency": urgency,
            "title": texts["title"],
            "description": texts["description"],
            "reporter_name": texts["reporter_name"],
            "reporter_phone": phone,
            "address_code": _clean(address_code),
            "address_text": texts["address_text"],
            "lon": _coordinate(lon),
            "lat": _coordinate(lat),
            "crs": _clean(crs) if point else "",
        }
    )


def key_reused_error() -> ServiceError:
    """422 ``tickets.idempotency_key_reused``: a retry whose content differs from the first call's.

    It names neither the ticket nor its number: the key may be another jurisdiction's call id,
    and the ticket out of the caller's sight.
    """
    return ServiceError(
        "tickets.idempotency_key_reused",
        _(
            "This external id (idempotency key) was already used for a submission with different "
            "content. Send a new external id for a new submission, or repeat the first one unchanged."
        ),
        field="external_id",
        status=422,
    )


def check_same_submission(*, stored: str, fresh: str) -> None:
    """Refuse a retry whose content differs from the first call's (``key_reused_error``).

    A ticket written before fingerprints were kept (``stored`` empty) answers every retry of its
    key, as it always did.
    """
    if not same_input(stored, fresh):
        raise key_reused_error()
