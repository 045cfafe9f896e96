"""The pagination of lists: the API's ``@paginate(LimitOffsetPagination)`` and the web pages'
``CappedPaginator``, both counting at most ``COUNT_CAP`` rows.

ninja's own class bounds ``limit`` by ``NINJA_PAGINATION_MAX_LIMIT`` but leaves ``offset``
unbounded, so an offset past a 64-bit integer reached the database and failed there (500). Here
both are bounded in the query schema, so an out-of-range value is 422 ``request.invalid`` naming
the parameter:

- ``limit``: 1 … ``NINJA_PAGINATION_MAX_LIMIT`` (1000), default ``NINJA_PAGINATION_PER_PAGE`` (100);
- ``offset``: 0 … ``MAX_OFFSET``.

Counts are bounded (``count_up_to``): a list counts its rows up to ``COUNT_CAP`` and says "more
than that" beyond, instead of an exact ``COUNT(*)`` over the millions of tickets a city dispatcher
sees (seconds at Shenzhen's scale, on every page: ``benchmarks/tickets_list_bench.py``). The API
answers ``count`` (exact up to the cap, the cap beyond it) and ``count_exact``; the web pages show
"10,000+" and page through the first ``COUNT_CAP`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.formats import number_format
from django.utils.functional import cached_property
from ninja import Field, Schema
from ninja.conf import settings as ninja_settings
from ninja.pagination import LimitOffsetPagination as NinjaLimitOffsetPagination
from ninja.pagination import paginate

__all__ = [
    "COUNT_CAP",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "BoundedCount",
    "CappedPaginator",
    "LimitOffsetPagination",
    "count_up_to",
    "page_rows",
    "paginate",
]

#: The largest page (``NINJA_PAGINATION_MAX_LIMIT``; ninja's default is no limit at all).
MAX_LIMIT: int = (
    int(ninja_settings.PAGINATION_MAX_LIMIT) if ninja_settings.PAGINATION_MAX_LIMIT != inf else 1000
)
#: The largest offset: far past any list of the city (ten million rows), far below the 64-bit range.
MAX_OFFSET = 10_000_000
#: How far a list counts: beyond it, "10,000+". Counting stops at the cap, so a count costs at
#: most that many index entries whatever the table holds (an exact count of a city's history
#: reads every row in scope). Also what the web lists page through (200 pages of 50).
COUNT_CAP = 10_000


@dataclass(frozen=True)
class BoundedCount:
    """How many rows, exact up to a cap: ``value`` is the count, or the cap when there are more
    (``exact`` false). Shown as "1,234" or "10,000+"; false when zero (a tile's warning colour);
    equal to an ``int`` only when exact and the same."""

    value: int
    exact: bool = True

    def __str__(self) -> str:
        shown = number_format(self.value, force_grouping=True)
        return shown if self.exact else f"{shown}+"

    def __bool__(self) -> bool:
        return self.value > 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BoundedCount):
            return (self.value, self.exact) == (other.value, other.exact)
        if isinstance(other, int):
            return self.exact and self.value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.value, self.exact))


def count_up_to(queryset: QuerySet, cap: int | None = None) -> BoundedCount:
    """Count ``queryset``'s rows, reading at most ``cap`` + 1 of them (``COUNT_CAP`` by default).

    ``SELECT COUNT(*) FROM (SELECT id … LIMIT cap + 1)``: no ordering (any cap + 1 rows tell that
    there are more), no annotations (the inbox's per-row subqueries are not computed to count).
    """
    cap = COUNT_CAP if cap is None else cap
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return BoundedCount(found, True) if found <= cap else BoundedCount(cap, False)


#: The databases whose first page is read ids first too (``page_rows``).
FIRST_PAGE_BY_IDS = frozenset({"sqlite"})


def _first_page_by_ids(queryset: QuerySet) -> bool:
    """Whether the first page is read ids first: on SQLite, when the query joins or annotates.

    A planner that cannot read the order from one index (a scope "division IN … OR handling unit
    = … OR reporter = …") sorts every row in scope, and SQLite sorted them with all their joins,
    or chose to even where one index holds the order (the whole city's first page 2.3–5.5 s, a
    district department's 0.5 s at 1,000,000 tickets; ``benchmarks/tickets_list_bench.py``);
    by ids, 0.03–0.05 s. PostgreSQL plans the joined query as well as the ids (a first page
    there: 10–30 ms either way), so it keeps one query. So does a plain query, and a grouped or
    DISTINCT one (whose ids would need the order's columns selected too).
    """
    query = queryset.query
    if connections[queryset.db].vendor not in FIRST_PAGE_BY_IDS:
        return False
    if query.distinct or query.group_by is not None:
        return False
    return bool(query.select_related or query.annotations)


def page_rows(queryset, offset: int, limit: int):
    """Rows ``offset`` … ``offset + limit`` of ``queryset``, in its order.

    The ids first (``SELECT id … ORDER BY … LIMIT … OFFSET``: no joins, an index-only scan where an
    index holds the filter and the order, ``tickets_received``), then those rows with everything
    the page shows: the joins of ``select_related`` and the annotations are computed for the
    page's rows only, not for every row skipped or sorted. Same rows, same order (the rows are put
    in the order of the ids).

    The first page too on SQLite when the query joins or annotates (``_first_page_by_ids``).
    """
    if not isinstance(queryset, QuerySet) or queryset.query.combinator:
        return queryset[offset : offset + limit]
    if offset == 0 and not _first_page_by_ids(queryset):
        return queryset[offset : offset + limit]
    ids = list(queryset.values_list("pk", flat=True)[offset : offset + limit])
    if not ids:
        return []
    rows = {row.pk: row for row in queryset.filter(pk__in=ids)}
    return [rows[pk] for pk in ids if pk in rows]


class CappedPaginator(Paginator):
    """Django's paginator over at most ``cap`` rows (``COUNT_CAP``): ``count`` is the bounded
    count's value, ``count_exact`` says whether there are more. The pages past the cap do not
    exist (``get_page`` answers the last one; the page says why): their ``OFFSET`` would read
    every row before them, and nobody reads page 2,000 of a list — they narrow it."""

    def __init__(self, object_list, per_page, *, cap: int | None = None, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.cap = COUNT_CAP if cap is None else cap

    @cached_property
    def bounded_count(self) -> BoundedCount:
        if isinstance(self.object_list, QuerySet):
            return count_up_to(self.object_list, self.cap)
        found = len(self.object_list)
        return BoundedCount(found, True) if found <= self.cap else BoundedCount(self.cap, False)

    @cached_property
    def count(self) -> int:
        return self.bounded_count.value

    @property
    def count_exact(self) -> bool:
        return self.bounded_count.exact

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(page_rows(self.object_list, bottom, top - bottom), number, self)


class LimitOffsetPagination(NinjaLimitOffsetPagination):
    """``limit`` and ``offset`` as ninja has them, both bounded (out of range: 422); ``count``
    bounded by ``COUNT_CAP`` with ``count_exact`` saying whether it is the exact count."""

    class Input(Schema):
        limit: int = Field(ninja_settings.PAGINATION_PER_PAGE, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)

    class Output(Schema):
        items: list[Any]
        count: int = Field(
            ...,
            description=f"How many there are, exact up to {COUNT_CAP:,}; beyond that {COUNT_CAP:,} "
            "(count_exact false): page on with offset until a page is shorter than limit.",
        )
        count_exact: bool = Field(
            ..., description=f"Whether count is the exact count (false: more than {COUNT_CAP:,})."
        )

    def __init__(self, max_limit: int = MAX_LIMIT, **kwargs) -> None:
        super().__init__(max_limit=max_limit, **kwargs)

    def paginate_queryset(self, queryset, pagination: Input, request, **params) -> Any:
        offset = pagination.offset
        limit: int = min(pagination.limit, self.max_limit)
        if isinstance(queryset, QuerySet):
            counted = count_up_to(queryset)
        else:  # a list, or a page-like object of its own (the analytics alerts): its own count
            counted = BoundedCount(self._items_count(queryset), True)
        return {
            self.items_attribute: page_rows(queryset, offset, limit),
            "count": counted.value,
            "count_exact": counted.exact,
        }
