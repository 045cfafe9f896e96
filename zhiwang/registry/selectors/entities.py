"""Reads about legal entities: one entity, search by credit code or name, where it operates, its sources."""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Func, QuerySet, TextField, Value
from django.db.models.functions import Concat

from zhiwang.core.validators import normalize_identifier
from zhiwang.registry.models import STAY_ORDER, EntitySource, LegalEntity, Operation
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
#: A name search on PostgreSQL sorts at most this many matches (found in storage order). A
#: common pair such as "科技" matches hundreds of thousands of names in a city; reading them
#: all to show the first 50 by name takes seconds, so past this many the page shows 50 of
#: them in name order and asks for more characters (``entity_search_is_capped``).
NAME_SEARCH_SCAN = 2000


def entity_search(*, user, q: str = "", limit: int = 50) -> QuerySet[LegalEntity]:
    """Entities by credit code (exact) or name (contains), in name order.

    On PostgreSQL a name search with more than ``NAME_SEARCH_SCAN`` matches answers the
    first ``limit`` by name among ``NAME_SEARCH_SCAN`` of them, not among all.
    """
    qs = LegalEntity.objects.visible_to(user).select_related("community")
    q = (q or "").strip()
    if not q:
        return qs.order_by("name", "pk")[:limit]
    code = normalize_identifier(q)
    if len(code) == 18 and code.isalnum():
        return qs.filter(credit_code=code)[:limit]
    found = _indexed_matches(qs, q)
    if found is None:  # SQLite, and one character on PostgreSQL: LIKE in name order
        return qs.filter(name__contains=q).order_by("name", "pk")[:limit]
    # Up to NAME_SEARCH_SCAN matches as the GIN index finds them (no order: the scan stops
    # there), then those in name order. Ordered by an expression no b-tree provides, so the
    # planner cannot walk the name index instead, filtering row after row: it expects the
    # matches spread evenly in name order, and they are not (263,000 rows read to find 50).
    first = found.order_by().values("pk")[:NAME_SEARCH_SCAN]
    return (
        LegalEntity.objects.filter(pk__in=first)
        .select_related("community")
        .order_by(Concat("name", Value("")), "pk")[:limit]
    )


def entity_search_is_capped(*, user, q: str) -> bool:
    """Whether ``entity_search`` left matches out of its name order (more than ``NAME_SEARCH_SCAN``)."""
    q = (q or "").strip()
    found = _indexed_matches(LegalEntity.objects.visible_to(user), q) if q else None
    return (
        found is not None and found.order_by().values("pk")[: NAME_SEARCH_SCAN + 1].count() > NAME_SEARCH_SCAN
    )


def _indexed_matches(qs: QuerySet[LegalEntity], q: str) -> QuerySet[LegalEntity] | None:
    """The names containing ``q`` through a GIN index (PostgreSQL, 2+ characters), else None."""
    if connection.vendor != "postgresql" or len(q) < 2:
        return None
    if len(q) >= TRIGRAM_MIN_CHARS:
        return qs.filter(name__contains=q)  # pg_trgm's GIN index serves LIKE (migration 0006)
    # No whole trigram in two characters: the bigram GIN index (migration 0006). For two
    # characters "holds the pair" IS "contains", so no LIKE beside it: with both the planner
    # multiplied their selectivities, expected one row where a common pair has ~12,000
    # (2.4 M entities) and joined the communities by a nested loop per row (0.5–0.7 s).
    # An expression on the name field, not SQL text naming the table: inside the subquery
    # of ``entity_search`` the table has another alias.
    from django.contrib.postgres.fields import ArrayField

    bigrams = Func(F("name"), function="registry_name_bigrams", output_field=ArrayField(TextField()))
    return qs.alias(name_bigrams=bigrams).filter(name_bigrams__contains=[q])


def entity_operations(*, entity: LegalEntity) -> list[Operation]:
    return list(Operation.objects.filter(entity=entity).select_related("address").order_by(*STAY_ORDER))


def entity_sources(*, entity: LegalEntity) -> list:
    rows = list(
        EntitySource.objects.filter(entity=entity).select_related("source").order_by("-last_confirmed_at")
    )
    return _sources(rows, entity)
