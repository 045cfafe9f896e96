"""Recompute the disputes' keyed hashes after the hash key changed (a step of ``zhiwang rehash-all``).

``Visitor.id_hash`` and ``Party.identifier_hash`` are ``services.common.keyed_hash`` of the stored
``id_number`` / ``identifier`` (kept in plain, so every hash can be rebuilt): changing
``ZHIWANG_REGISTRY_HASH_KEY`` (or ``SECRET_KEY`` while it is empty) leaves every returning visitor
unfound, registered anew, until they are recomputed. Rows go in primary-key order, one
transaction per batch, and only rows whose hash differs are written: a stopped run is finished
by running it again, and a second run changes nothing.

A visitor is registered once per hash (``disputes_visitor_once``), but not always once per ID
number: a visitor registered before an earlier key change, and registered anew after it, has
two rows with the same number. Both cannot hold the new hash. The one that already holds it
(registered since the change: the one the window finds today) keeps it, else the earliest row;
the other is *retired*: its ``id_hash`` is emptied, its number and visits stay, and the window
no longer finds it (it found neither before). A retired visitor keeps its empty hash in later
runs: only rows with a hash are recomputed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from zhiwang.disputes.models import Party, Visitor
from zhiwang.disputes.services.common import keyed_hash


@dataclass
class DisputesRehashResult:
    """What a run read, rewrote (or, dry, would rewrite) and retired (duplicate visitors)."""

    checked: int = 0
    changed: int = 0
    retired: int = 0
    dry_run: bool = False


def visitors_to_rehash():
    """The visitors whose ``id_hash`` follows the key: those with an ID number and a hash."""
    return Visitor.objects.exclude(id_number="").exclude(id_hash="")


def parties_to_rehash():
    """The parties with an identifier (ID number or credit code), hence a hash."""
    return Party.objects.exclude(identifier="")


def visitor_hashes_rebuild(
    *, batch_size: int = 2000, dry_run: bool = False, progress: Callable[[int], object] | None = None
) -> DisputesRehashResult:
    """Recompute ``Visitor.id_hash`` under the current key; retire duplicates (module docstring).

    ``progress`` is called with the number of visitors read in each batch.
    """
    result = DisputesRehashResult(dry_run=dry_run)
    last_pk = 0
    # hashes given in this batch: a later row with the same number is a duplicate before the
    # earlier one is written. A dry run, which writes none, sees a duplicate in another batch
    # only when it holds the new hash already (it counts the later row as changed, not retired).
    given: set[str] = set()
    while True:
        given.clear()
        rows = list(
            visitors_to_rehash()
            .filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "id_number", "id_hash")[:batch_size]
        )
        if not rows:
            return result
        last_pk = rows[-1][0]
        fresh = {pk: keyed_hash(number) for pk, number, _digest in rows}
        stale = {pk: fresh[pk] for pk, _number, digest in rows if fresh[pk] != digest}
        updates, retired = [], []
        if stale:
            with transaction.atomic():
                # visitors holding a new hash already (the same number, found today); never the
                # row itself, whose hash differs from its new one
                held = set(
                    Visitor.objects.select_for_update()
                    .filter(id_hash__in=set(stale.values()))
                    .values_list("id_hash", flat=True)
                )
                for pk in sorted(stale):
                    digest = stale[pk]
                    if digest in held or digest in given:
                        retired.append(Visitor(pk=pk, id_hash=""))
                    else:
                        given.add(digest)
                        updates.append(Visitor(pk=pk, id_hash=digest))
                if not dry_run:
                    Visitor.objects.bulk_update(retired + updates, ["id_hash"])
        result.checked += len(rows)
        result.changed += len(updates)
        result.retired += len(retired)
        if progress is not None:
            progress(len(rows))


def party_hashes_rebuild(
    *, batch_size: int = 2000, dry_run: bool = False, progress: Callable[[int], object] | None = None
) -> DisputesRehashResult:
    """Recompute ``Party.identifier_hash`` under the current key (not unique: no duplicates to
    settle). ``progress`` is called with the number of parties read in each batch."""
    result = DisputesRehashResult(dry_run=dry_run)
    last_pk = 0
    while True:
        rows = list(
            parties_to_rehash()
            .filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "identifier", "identifier_hash")[:batch_size]
        )
        if not rows:
            return result
        last_pk = rows[-1][0]
        fresh = ((pk, keyed_hash(identifier), digest) for pk, identifier, digest in rows)
        stale = [Party(pk=pk, identifier_hash=new) for pk, new, digest in fresh if new != digest]
        if stale and not dry_run:
            with transaction.atomic():
                Party.objects.bulk_update(stale, ["identifier_hash"])
        result.checked += len(rows)
        result.changed += len(stale)
        if progress is not None:
            progress(len(rows))


#: The steps ``zhiwang rehash-all`` runs for this app: name → (rows to read, rebuild).
REKEY_STEPS = {
    "disputes visitors": (lambda: visitors_to_rehash().count(), visitor_hashes_rebuild),
    "disputes parties": (lambda: parties_to_rehash().count(), party_hashes_rebuild),
}
