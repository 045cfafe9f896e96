"""A person stored twice while the key was new and the hashes old: the rehash does not stop on the
unique ID-number hash; the row found today keeps it, the other's is set aside (not the old key's
hash: a rotated key may have leaked) and it is reported."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from zhiwang.registry.hashing import id_number_hash, normalize_phone, phone_hash
from zhiwang.registry.models import Person
from zhiwang.registry.selectors import person_search
from zhiwang.registry.services.rehash import person_hashes_rebuild

pytestmark = pytest.mark.django_db


def _copy(person: Person) -> Person:
    """The same person imported again under the new key (the old row was not found by its hash)."""
    return Person.objects.create(
        id_number=person.id_number,
        id_number_hash=id_number_hash(person.id_number),
        name=person.name,
        gender=person.gender,
        birth_date=person.birth_date,
        phone=person.phone,
        phone_hash=phone_hash(normalize_phone(person.phone)),
        community=person.community,
    )


def test_a_person_stored_twice_is_counted_not_fatal(settings, steward, registry_demo):
    earlier = Person.objects.exclude(phone="").order_by("pk").first()
    old_id_hash = earlier.id_number_hash
    settings.ZHIWANG_REGISTRY_HASH_KEY = "a-new-key-for-the-test"
    later = _copy(earlier)
    total = Person.objects.count()

    dry = person_hashes_rebuild(batch_size=5, dry_run=True)
    assert (dry.changed, dry.conflicts) == (total - 1, 1)
    result = person_hashes_rebuild(batch_size=5)
    assert (result.checked, result.changed, result.conflicts) == (total, total - 1, 1)
    earlier.refresh_from_db()
    later.refresh_from_db()
    assert later.id_number_hash == id_number_hash(earlier.id_number)
    assert earlier.id_number_hash == f"conflict:{earlier.pk}" != old_id_hash  # the new one is the later row's
    assert earlier.phone_hash == later.phone_hash  # the phone finds both
    assert list(person_search(user=steward, q=earlier.id_number).values_list("pk", flat=True)) == [later.pk]

    again = person_hashes_rebuild(batch_size=5)
    assert (again.changed, again.conflicts) == (0, 1)  # counted again, nothing written
    earlier.refresh_from_db()
    assert earlier.id_number_hash == f"conflict:{earlier.pk}"
    out = io.StringIO()
    call_command("registry_rehash", "--no-progress", stdout=out)
    assert f"rehashed 0 of {total} people, 1 stored twice: ID-number hash set aside" in out.getvalue()
