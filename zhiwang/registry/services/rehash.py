"""Recompute the keyed hashes of people after the hash key changed (``zhiwang registry-rehash``).

Lookups by ID number and phone go through HMAC hashes (``registry.hashing``); changing
``ZHIWANG_REGISTRY_HASH_KEY`` (or ``SECRET_KEY`` when it is empty) makes every stored hash
unfindable until it is recomputed from the stored values. The work goes in primary-key
order, one transaction per batch, and writes only rows whose hashes differ: a run that is
stopped half-way is finished by running it again, and a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from zhiwang.registry.hashing import id_number_hash, phone_hash
from zhiwang.registry.models import Person


@dataclass
class RehashResult:
    """What a rehash run did: people read, and how many of them got new hashes."""

    checked: int = 0
    changed: int = 0
    dry_run: bool = False


def person_hashes_rebuild(
    *, batch_size: int = 2000, dry_run: bool = False, progress: Callable[[int], object] | None = None
) -> RehashResult:
    """Recompute ``id_number_hash`` and ``phone_hash`` of every person with the current key.

    No change history rows: the hashes are derived lookup keys, not facts about the person.
    ``progress`` is called with the number of people read in each batch.
    """
    result = RehashResult(dry_run=dry_run)
    last_pk = 0
    while True:
        rows = list(
            Person.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "id_number", "id_number_hash", "phone", "phone_hash")[:batch_size]
        )
        if not rows:
            return result
        last_pk = rows[-1][0]
        stale = []
        for pk, id_number, id_hash, phone, ph_hash in rows:
            new_id, new_phone = id_number_hash(id_number), phone_hash(phone)
            if new_id != id_hash or new_phone != ph_hash:
                stale.append(Person(pk=pk, id_number_hash=new_id, phone_hash=new_phone))
        if stale and not dry_run:
            with transaction.atomic():
                Person.objects.bulk_update(stale, ["id_number_hash", "phone_hash"])
        result.checked += len(rows)
        result.changed += len(stale)
        if progress is not None:
            progress(len(rows))
