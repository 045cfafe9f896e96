"""Reads shared by the submissions of one batch, done once for the batch.

The submit pipeline reads a category (active? a leaf?) and a standard address per
submission. A batch (``submit_batch``) reads them for all its submissions in one query each
beforehand (``intake_memo``); ``intake_validation._category`` and ``intake_place.locate_place``
look here first. Outside a batch nothing is remembered: a single submission reads the tables,
so an administrator's change is seen at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection

from zhiwang.geo.models import StandardAddress
from zhiwang.tickets.models import Category

_local = threading.local()
_MISSING = object()


@contextmanager
def intake_memo(*, category_codes: Iterable[str] = (), address_codes: Iterable[str] = ()) -> Iterator[None]:
    """Read these categories and standard addresses now; the pipeline uses them inside the block."""
    memo = {"category": _categories(category_codes), "address": _addresses(address_codes)}
    outer = getattr(_local, "memo", None)
    _local.memo = memo
    try:
        yield
    finally:
        _local.memo = outer


def remembered(kind: str, key):
    """The value read for ``key`` (None: read, and absent), or ``MISSING`` outside a batch / not read."""
    memo = getattr(_local, "memo", None)
    if memo is None:
        return _MISSING
    return memo[kind].get(key, _MISSING)


MISSING = _MISSING


def _categories(codes: Iterable[str]) -> dict:
    """code → (id, has active children) of the active categories among ``codes``; None for the others."""
    wanted = sorted({c.strip() for c in codes if isinstance(c, str) and c.strip()})
    found: dict = dict.fromkeys(wanted)
    if not wanted:
        return found
    qn = connection.ops.quote_name
    table = qn(Category._meta.db_table)
    marks = ", ".join(["%s"] * len(wanted))
    sql = (
        f"SELECT c.code, c.id, EXISTS (SELECT 1 FROM {table} k WHERE k.parent_id = c.id AND k.is_active) "
        f"FROM {table} c WHERE c.code IN ({marks}) AND c.is_active"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, wanted)
        for code, pk, has_children in cursor.fetchall():
            found[code] = (pk, bool(has_children))
    return found


def _addresses(codes: Iterable[str]) -> dict:
    """code → StandardAddress (with its grid) for ``codes``; None for codes that do not exist."""
    wanted = sorted({c.strip() for c in codes if isinstance(c, str) and c.strip()})
    found: dict = dict.fromkeys(wanted)
    for address in StandardAddress.objects.select_related("grid").filter(code__in=wanted):
        found[address.code] = address
    return found
