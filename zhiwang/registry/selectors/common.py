"""Helpers shared by the registry reads: what is current on a day, the sources of a record."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from django.db.models import Q, QuerySet
from django.utils import timezone


def _current(qs: QuerySet, today: date | None = None) -> QuerySet:
    today = today or timezone.localdate()
    return qs.filter(Q(until__isnull=True) | Q(until__gte=today))


def _sources(rows: list, record) -> list:
    """Each department's statement; a record only one department ever sent answers its own provenance."""
    if rows or record.source_id is None:
        return rows
    return [
        SimpleNamespace(
            source=record.source,
            last_confirmed_at=record.last_confirmed_at,
            import_batch_id=record.import_batch_id,
        )
    ]
