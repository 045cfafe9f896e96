"""Recompute the keyed hashes of people after the hash key changed (``zhiwang registry-rehash``).

Lookups by ID number and phone go through HMAC hashes (``registry.hashing``); changing
``ZHIWANG_REGISTRY_HASH_KEY`` (or ``SECRET_KEY`` when it is empty) makes every stored hash
unfindable until it is recomputed from the stored values. The work goes in primary-key
order, one transaction per batch, and writes only rows whose hashes differ: a run that is
stopped half-way is finished by running it again, and a second run changes nothing.
``zhiwang rehash-all`` runs this with every other app's keyed hashes (``registry.rekey``).

A person imported while the key was new and the hashes old was not found by ID number and is
stored twice. The new ID-number hash is unique, so it stays with the row that holds it (the
later import); the earlier row's is set aside (``conflict:<pk>``, which no lookup finds; its
phone hash is recomputed) and it is counted in ``conflicts``: the two are to be merged by hand.
The old key's hash is not kept: a key is rotated because it may have leaked, and an ID number's
hash under a leaked key can be reversed by trying every number. Each run counts it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from zhiwang.registry.hashing import id_number_hash, phone_hash
from zhiwang.registry.models import Person


def conflict_hash(pk: int) -> str:
    """The ID-number hash of a person stored twice whose number's hash the other row holds: unique,
    found by no lookup (a hash is 64 hex digits), and not the old key's hash."""
    return f"conflict:{pk}"


@dataclass
class RehashResult:
    """What a rehash run did: people read, and how many of them got new hashes."""

    checked: int = 0
    changed: int = 0
    conflicts: int = 0
    dry_run: bool = False


def person_hashes_rebuild(
    *, batch_size: int = 2000, dry_run: bool = False, progress: Callable[[int], object] | None = None
) -> RehashResult:
    """Recompute ``id_number_hash`` and ``phone_hash`` of every person with the current key.

    No change history rows: the hashes are derived lookup keys, not facts about the person.
    A person whose new ID-number hash another holds gets ``conflict:<pk>`` (``conflicts``, above).
    ``progress`` is called with the number of people read in each batch.
    """
    result = RehashResult(dry_run=dry_run)
    last_pk = 0
    # ID-number hashes given in this batch; a dry run, which writes none, sees a conflict between
    # two batches' rows only when the earlier one had the new hash already
    given: set[str] = set()
    while True:
        rows = list(
            Person.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "id_number", "id_number_hash", "phone", "phone_hash")[:batch_size]
        )
        if not rows:
            return result
        last_pk = rows[-1][0]
        stale = {}
        for pk, id_number, id_hash, phone, ph_hash in rows:
            new_id, new_phone = id_number_hash(id_number), phone_hash(phone)
            if new_id != id_hash or new_phone != ph_hash:
                stale[pk] = (new_id, id_hash, new_phone, ph_hash)
        written = []
        if stale:
            with transaction.atomic():
                # people holding a new ID-number hash already: the same number twice (a row
                # whose ID-number hash is current finds itself, and is not checked below)
                held = set(
                    Person.objects.select_for_update()
                    .filter(id_number_hash__in={new_id for new_id, *_rest in stale.values()})
                    .values_list("id_number_hash", flat=True)
                )
                for pk in sorted(stale):
                    new_id, id_hash, new_phone, ph_hash = stale[pk]
                    if new_id != id_hash and (new_id in held or new_id in given):
                        result.conflicts += 1
                        new_id = conflict_hash(pk)
                    given.add(new_id)
                    if (new_id, new_phone) != (id_hash, ph_hash):
                        written.append(Person(pk=pk, id_number_hash=new_id, phone_hash=new_phone))
                if written and not dry_run:
                    Person.objects.bulk_update(written, ["id_number_hash", "phone_hash"])
        given.clear()
        result.checked += len(rows)
        result.changed += len(written)
        if progress is not None:
            progress(len(rows))
