"""The one pagination of the API's lists: ``@paginate(LimitOffsetPagination)`` from here.

ninja's own class bounds ``limit`` by ``NINJA_PAGINATION_MAX_LIMIT`` but leaves ``offset``
unbounded, so an offset past a 64-bit integer reached the database and failed there (500). Here
both are bounded in the query schema, so an out-of-range value is 422 ``request.invalid`` naming
the parameter:

- ``limit``: 1 … ``NINJA_PAGINATION_MAX_LIMIT`` (1000), default ``NINJA_PAGINATION_PER_PAGE`` (100);
- ``offset``: 0 … ``MAX_OFFSET``.
"""

from __future__ import annotations

from math import inf

from ninja import Field, Schema
from ninja.conf import settings as ninja_settings
from ninja.pagination import LimitOffsetPagination as NinjaLimitOffsetPagination
from ninja.pagination import paginate

__all__ = ["MAX_LIMIT", "MAX_OFFSET", "LimitOffsetPagination", "paginate"]

#: The largest page (``NINJA_PAGINATION_MAX_LIMIT``; ninja's default is no limit at all).
MAX_LIMIT: int = (
    int(ninja_settings.PAGINATION_MAX_LIMIT) if ninja_settings.PAGINATION_MAX_LIMIT != inf else 1000
)
#: The largest offset: far past any list of the city (ten million rows), far below the 64-bit range.
MAX_OFFSET = 10_000_000


class LimitOffsetPagination(NinjaLimitOffsetPagination):
    """``limit`` and ``offset`` as ninja has them, both bounded (out of range: 422)."""

    class Input(Schema):
        limit: int = Field(ninja_settings.PAGINATION_PER_PAGE, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def __init__(self, max_limit: int = MAX_LIMIT, **kwargs) -> None:
        super().__init__(max_limit=max_limit, **kwargs)
