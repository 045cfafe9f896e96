"""Backfill: link visitors and parties registered before the registry link existed.

An unlinked visitor or person party with an ID number is linked to the registry person
with the same *registry* keyed hash (``registry.hashing``, purpose ``id``); an unlinked
entity party with a credit code to the legal entity with that code. Rows already linked
are never touched, so a second run finds nothing to do (idempotent). The rows are walked
by primary key in batches, one transaction per batch: an interrupted run keeps the
batches it finished and the next run carries on with what is still unlinked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.db import transaction

from zhiwang.core.validators import normalize_identifier
from zhiwang.disputes.models import Party, PartyKind, Visitor
from zhiwang.registry.hashing import hasher
from zhiwang.registry.models import LegalEntity, Person


@dataclass
class BackfillResult:
    """What a backfill run looked at and linked (or, in a dry run, would link)."""

    dry_run: bool = False
    visitors_checked: int = 0
    visitors_linked: int = 0
    person_parties_checked: int = 0
    person_parties_linked: int = 0
    entity_parties_checked: int = 0
    entity_parties_linked: int = 0

    @property
    def linked(self) -> int:
        return self.visitors_linked + self.person_parties_linked + self.entity_parties_linked

    def as_dict(self) -> dict:
        return {**asdict(self), "linked": self.linked}


def _pending():
    """The three kinds of unlinked rows with an identifier: (name, queryset, identifier field, link field)."""
    return [
        (
            "visitors",
            Visitor.objects.filter(person__isnull=True).exclude(id_number=""),
            "id_number",
            "person",
        ),
        (
            "person_parties",
            Party.objects.filter(kind=PartyKind.PERSON, person__isnull=True).exclude(identifier=""),
            "identifier",
            "person",
        ),
        (
            "entity_parties",
            Party.objects.filter(kind=PartyKind.ENTITY, entity__isnull=True).exclude(identifier=""),
            "identifier",
            "entity",
        ),
    ]


def registry_backfill_count() -> int:
    """How many unlinked rows with an identifier there are (the progress bar's total)."""
    return sum(qs.count() for _name, qs, _field, _link in _pending())


def registry_backfill(
    *, dry_run: bool = False, batch_size: int = 500, progress: Callable[[int], None] | None = None
) -> BackfillResult:
    """Link unlinked visitors and parties to the registry by the registry's keyed hash / credit code.

    ``dry_run`` only counts what would be linked. ``progress(n)`` is called after each batch
    with the number of rows it looked at.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    result = BackfillResult(dry_run=dry_run)
    id_hash = hasher("id")
    for name, queryset, field, link in _pending():
        last_pk = 0
        while True:
            rows = list(queryset.filter(pk__gt=last_pk).order_by("pk").only("pk", field)[:batch_size])
            if not rows:
                break
            last_pk = rows[-1].pk
            values = {row.pk: normalize_identifier(getattr(row, field)) for row in rows}
            if link == "person":
                hashes = {pk: id_hash(value) for pk, value in values.items()}
                found = dict(
                    Person.objects.filter(id_number_hash__in=set(hashes.values())).values_list(
                        "id_number_hash", "pk"
                    )
                )
                targets = {pk: found.get(h) for pk, h in hashes.items()}
            else:
                found = dict(
                    LegalEntity.objects.filter(credit_code__in=set(values.values())).values_list(
                        "credit_code", "pk"
                    )
                )
                targets = {pk: found.get(value) for pk, value in values.items()}
            matched = [row for row in rows if targets[row.pk] is not None]
            linked = len(matched)
            if matched and not dry_run:
                model = type(rows[0])
                with transaction.atomic():
                    # Only rows still unlinked (locked): a link set meanwhile (a pick) is kept.
                    still = set(
                        model.objects.select_for_update()
                        .filter(pk__in=[row.pk for row in matched], **{f"{link}__isnull": True})
                        .values_list("pk", flat=True)
                    )
                    model.objects.bulk_update(
                        [model(pk=pk, **{f"{link}_id": targets[pk]}) for pk in sorted(still)],
                        [link],
                    )
                linked = len(still)
            setattr(result, f"{name}_checked", getattr(result, f"{name}_checked") + len(rows))
            setattr(result, f"{name}_linked", getattr(result, f"{name}_linked") + linked)
            if progress is not None:
                progress(len(rows))
    return result
