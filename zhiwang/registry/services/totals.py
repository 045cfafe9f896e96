"""Recompute the registry totals per community and grid (``RegistryTotals``) in one transaction."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from zhiwang.registry.models import Housing, LegalEntity, Person, RegistryTotals

Place = tuple[int | None, int | None]  # (community id, grid id)


def _by_place(queryset) -> dict[Place, int]:
    rows = queryset.order_by().values("community_id", "grid_id").annotate(n=Count("pk"))
    return {(row["community_id"], row["grid_id"]): row["n"] for row in rows}


def totals_refresh() -> int:
    """Count people, entities, housing and rentals per (community, grid); replace the stored totals.

    One ``GROUP BY`` per table (seconds at Shenzhen scale, in the task worker). The old rows
    are replaced in the same transaction, so a reader sees either the old or the new totals.
    Answers the number of rows written.
    """
    people = _by_place(Person.objects.all())
    entities = _by_place(LegalEntity.objects.all())
    housing = _by_place(Housing.objects.all())
    rentals = _by_place(Housing.objects.filter(is_rental=True))
    now = timezone.now()
    rows = [
        RegistryTotals(
            community_id=place[0],
            grid_id=place[1],
            people=people.get(place, 0),
            entities=entities.get(place, 0),
            housing=housing.get(place, 0),
            rentals=rentals.get(place, 0),
            computed_at=now,
        )
        for place in sorted(set(people) | set(entities) | set(housing), key=lambda p: (p[0] or 0, p[1] or 0))
    ]
    with transaction.atomic():
        RegistryTotals.objects.all().delete()
        RegistryTotals.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
