"""Parsing of GeoReport v2 parameters: W3C datetimes, comma lists, paging, ``attribute[…]`` keys.

"Optional" in the spec means an empty parameter is treated exactly like an absent one,
so every reader here strips and treats "" as missing. Errors are ``ServiceError`` with
the parameter's name as the field, and stable codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList

#: GeoReport v2: "a span of 90 days or first 1000 requests returned, whichever is smallest".
MAX_SPAN = timedelta(days=90)
MAX_PAGE_SIZE = 1000
#: More ids than this in ``service_request_id`` is refused.
MAX_IDS = 1000
#: The page (and the list of ids) a caller without an api_key gets at most, and by default. The
#: spec's 1,000 is a limit ("first 1000 requests returned, whichever is smallest"), not a promise:
#: a 1,000-row page costs about 1.4 s of CPU and 3.7 MB, which anybody could ask for in a loop.
#: A client that sends its api_key on reads gets pages of up to ``MAX_PAGE_SIZE``.
ANONYMOUS_PAGE_SIZE = 100
#: The deepest page: ``(page - 1) * page_size`` rows skipped at most. Further pages would cost a
#: scan of every skipped row (and a huge page overflows the database's integer); narrowing the
#: date range reaches older requests.
MAX_OFFSET = 10**7

_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$", re.ASCII)
#: W3C datetimes closer to year 1 or 9999 have no 90-day window around them (nor, for some, a
#: time in UTC): date arithmetic on them raises OverflowError.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + MAX_SPAN
_LATEST = datetime.max.replace(tzinfo=UTC) - MAX_SPAN
#: ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() refuses or reads differently.
_DIGITS = re.compile(r"[0-9]+")
#: Stands for any number of more than 18 digits (int() refuses strings of thousands of digits).
_HUGE = 10**18
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def value(params, name: str) -> str:
    return (params.get(name) or "").strip()


def comma_list(params, name: str) -> list[str]:
    """A GeoReport v2 list parameter: "can be declared multiple times, comma delimited" — every
    value of a repeated parameter (``service_code=A&service_code=B``) and every comma-separated part
    of each (``service_code=A,B``), in order, without repeats."""
    values = params.getlist(name) if hasattr(params, "getlist") else [params.get(name)]
    parts = (part.strip() for text in values for part in (text or "").split(","))
    return list(dict.fromkeys(part for part in parts if part))


def parse_w3c(text: str, field: str, errors: ErrorList) -> datetime | None:
    """A W3C datetime with its time zone (``2026-01-01T00:00:00Z``, ``…+08:00``); None when invalid."""
    if not _W3C.match(text):
        errors.add(
            field,
            "open311.datetime_invalid",
            _("Give a date and time with its time zone, e.g. 2026-01-01T08:00:00+08:00."),
        )
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        errors.add(field, "open311.datetime_invalid", _("This date and time does not exist."))
        return None
    if not _EARLIEST <= parsed <= _LATEST:
        errors.add(field, "open311.datetime_invalid", _("This date and time is out of range."))
        return None
    return parsed


def _positive_int(params, name: str, default: int, errors: ErrorList, maximum: int | None = None) -> int:
    raw = value(params, name)
    if not raw:
        return default
    if not _DIGITS.fullmatch(raw) or not raw.strip("0"):
        errors.add(name, "open311.not_positive_integer", _("Give a whole number of 1 or more."))
        return default
    digits = raw.lstrip("0")
    number = int(digits) if len(digits) <= 18 else _HUGE
    if maximum is not None and number > maximum:
        errors.add(name, "open311.too_large", _("At most %(max)s.") % {"max": maximum})
        return default
    return number


@dataclass(frozen=True)
class RequestQuery:
    """The parsed query of GET requests."""

    numbers: list[str]
    service_codes: list[str]
    start: datetime
    end: datetime
    statuses: list[str]
    page: int
    page_size: int
    #: The ``after`` extension: (requested time, service_request_id) of the last request of the
    #: page before, which this page follows (see ``next_cursor``); None for the first page.
    after: tuple[datetime, str] | None = None


#: ``after`` = "<W3C datetime>,<service_request_id>"; ticket numbers have at most 20 characters.
_CURSOR = re.compile(r"^(?P<at>[^,]+),(?P<number>[0-9A-Za-z_-]{1,20})$")


def w3c_utc(when: datetime) -> str:
    """``when`` as a W3C datetime in UTC, to the microsecond (``2026-11-22T05:25:00.123456Z``): the
    exact value a next link pins, which ``parse_w3c`` reads back unchanged."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def next_cursor(received_at: datetime, number: str) -> str:
    """The ``after`` value of a next link: the last request of this page."""
    return f"{w3c_utc(received_at)},{number}"


def _parse_cursor(params, errors: ErrorList) -> tuple[datetime, str] | None:
    text = value(params, "after")
    if not text:
        return None
    match = _CURSOR.match(text)
    at = parse_w3c(match.group("at"), "after", ErrorList()) if match else None
    if at is None:
        errors.add(
            "after",
            "open311.after_invalid",
            _("Use the next link as it was given: after is a date and time and a service_request_id."),
        )
        return None
    return at.astimezone(UTC), match.group("number")


def parse_request_query(
    params, *, now: datetime | None = None, page_limit: int = MAX_PAGE_SIZE
) -> RequestQuery:
    """Apply the spec's defaults: the last 90 days, the first ``page_limit`` (1000 for a caller with
    an api_key, ``ANONYMOUS_PAGE_SIZE`` without); an ``end_date`` alone looks 90 days back from
    it, a ``start_date`` alone 90 days forward (never past now). ``page_limit`` also bounds
    ``page_size`` and the number of ids."""
    errors = ErrorList()
    now = now or timezone.now()
    numbers = comma_list(params, "service_request_id")
    if numbers:
        # "service_request_id … overrides all other arguments": they are not even checked
        limit = min(MAX_IDS, page_limit)
        if len(numbers) > limit:
            if limit < MAX_IDS:
                message = _(
                    "Ask for at most %(max)s requests at once without an api_key (up to %(keyed)s with one)."
                ) % {"max": limit, "keyed": MAX_IDS}
            else:
                message = _("Ask for at most %(max)s requests at once.") % {"max": limit}
            errors.add("service_request_id", "open311.too_many_ids", message)
        errors.raise_if_any("open311.query_invalid", _("The query has invalid parameters."))
        return RequestQuery(numbers, [], now - MAX_SPAN, now, [], 1, limit)
    start_text, end_text = value(params, "start_date"), value(params, "end_date")
    start = parse_w3c(start_text, "start_date", errors) if start_text else None
    end = parse_w3c(end_text, "end_date", errors) if end_text else None
    statuses = [s.lower() for s in comma_list(params, "status")]
    if any(s not in ("open", "closed") for s in statuses):
        errors.add("status", "open311.status_invalid", _("The status is open or closed."))
    page = _positive_int(params, "page", 1, errors)
    page_size = _positive_int(params, "page_size", page_limit, errors, maximum=MAX_PAGE_SIZE)
    if page_size > page_limit:
        errors.add(
            "page_size",
            "open311.too_large",
            _("At most %(max)s without an api_key (up to %(keyed)s with one).")
            % {"max": page_limit, "keyed": MAX_PAGE_SIZE},
        )
        page_size = page_limit
    after = _parse_cursor(params, errors)
    last_page = MAX_OFFSET // page_size + 1
    if page > last_page:
        errors.add(
            "page",
            "open311.too_large",
            _("At most %(max)s with page_size %(size)s: narrow the date range to reach older requests.")
            % {"max": last_page, "size": page_size},
        )
    if not errors.errors:
        # in UTC: PostgreSQL refuses offsets beyond ±15:59, which W3C datetimes may carry
        start = start.astimezone(UTC) if start else None
        end = end.astimezone(UTC) if end else None
        if start is None and end is None:
            end = now
            start = now - MAX_SPAN
        elif start is None:
            start = end - MAX_SPAN
        elif end is None:
            end = min(start + MAX_SPAN, max(now, start))
        if start > end:
            errors.add("start_date", "open311.dates_reversed", _("The start date is after the end date."))
        elif end - start > MAX_SPAN:
            errors.add(
                "end_date",
                "open311.date_range_too_long",
                _("The date range may not span more than 90 days."),
            )
    errors.raise_if_any("open311.query_invalid", _("The query has invalid parameters."))
    service_codes = comma_list(params, "service_code")
    return RequestQuery(numbers, service_codes, start, end, statuses, page, page_size, after)


def attribute_values(params) -> dict[str, list[str]]:
    """``attribute[CODE]=v`` and ``attribute[CODE][]=v1&attribute[CODE][]=v2`` → ``{CODE: [v, …]}``.

    Empty values are dropped (an empty parameter is an absent one).
    """
    found: dict[str, list[str]] = {}
    for key, values in params.lists():
        match = _ATTRIBUTE.match(key)
        if match is None:
            continue
        # line breaks as one form: "\r\n" (what browsers post) and a lone "\r" become "\n", so a
        # one-line (string) answer cannot hide a break and a text answer reads the same everywhere
        values = [(v or "").replace("\r\n", "\n").replace("\r", "\n") for v in values]
        kept = [v.strip() for v in values if v.strip()]
        if kept:
            found.setdefault(match.group(1).strip(), []).extend(kept)
    return found
