"""The registry's step of ``zhiwang rehash-all``: people's ID-number and phone hashes
(``services.rehash``, also run alone by ``zhiwang registry-rehash``)."""

from __future__ import annotations

from zhiwang.registry.models import Person
from zhiwang.registry.services.rehash import person_hashes_rebuild

#: The steps ``zhiwang rehash-all`` runs for this app: name → (rows to read, rebuild).
REKEY_STEPS = {
    "registry people": (lambda: Person.objects.count(), person_hashes_rebuild),
}
