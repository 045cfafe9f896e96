"""Reads about legal entities: one entity, search by credit code or name, where it operates, its sources."""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat

from zhiwang.core.validators import normalize_identifier
from zhiwang.registry.models import EntitySource, LegalEntity, Operation
from zhiwang.registry.selectors.common import _sources
from zhiwang.registry.services import not_found


def entity_get(*, user, pk: int) -> LegalEntity:
    entity = (
        LegalEntity.objects.visible_to(user)
        .select_related("community", "grid", "source")
        .filter(pk=pk)
        .first()
    )
    if entity is None:
        raise not_found()
    return entity


#: A "contains" text needs this many characters before the trigram index can narrow it.
TRIGRAM_MIN_CHARS = 3


def entity_search(*, user, q: str = "", limit: int = 50) -> QuerySet[LegalEntity]:
    """Entities by credit code (exact) or name (contains)."""
    qs = LegalEntity.objects.visible_to(user).select_related("community")
    q = (q or "").strip()
    if not q:
        return qs.order_by("name", "pk")[:limit]
    code = normalize_identifier(q)
    if len(code) == 18 and code.isalnum():
        return qs.filter(credit_code=code)[:limit]
    matches = qs.filter(name__contains=q)
    if connection.vendor == "postgresql" and len(q) >= TRIGRAM_MIN_CHARS:
        # Ordered by an expression no b-tree provides, so the planner cannot walk the name
        # index filtering row after row (a rare text would scan millions): it reads the
        # trigram GIN index (migration 0006) and sorts the matches. Same order as by name.
        return matches.order_by(Concat("name", Value("")), "pk")[:limit]
    if connection.vendor == "postgresql" and len(q) == 2:
        # No whole trigram in two characters: the bigram GIN index (migration 0006) finds the
        # names holding the pair. For two characters that IS "contains", so the LIKE is left
        # out: with both conditions the planner multiplied their selectivities, expected one
        # row where a common pair has ~12,000 (2.4 M entities) and joined the communities by
        # a nested loop per row (0.5-0.7 s); with the bigram alone it estimates right (hash join).
        # Ordered by an expression, as above: with a right estimate the planner otherwise walks
        # the name index expecting the matches spread evenly in name order, and they are not
        # (263,000 rows read to find 50: 2.5 s at 2.4 M entities).
        return qs.filter(
            RawSQL(
                "registry_name_bigrams(registry_legalentity.name) @> ARRAY[%s]::text[]",
                [q],
                output_field=BooleanField(),
            )
        ).order_by(Concat("name", Value("")), "pk")[:limit]
    # SQLite, and one character on PostgreSQL: LIKE in name order.
    return matches.order_by("name", "pk")[:limit]


def entity_operations(*, entity: LegalEntity) -> list[Operation]:
    return list(Operation.objects.filter(entity=entity).select_related("address").order_by("-since", "-pk"))


def entity_sources(*, entity: LegalEntity) -> list:
    rows = list(
        EntitySource.objects.filter(entity=entity).select_related("source").order_by("-last_confirmed_at")
    )
    return _sources(rows, entity)
