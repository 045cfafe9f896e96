"""After the hash key changes, ``registry-rehash`` makes people findable by ID number and phone again."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from zhiwang.registry.models import Person
from zhiwang.registry.selectors import person_search
from zhiwang.registry.services.rehash import person_hashes_rebuild


@pytest.fixture
def person_with_phone(registry_demo):
    return Person.objects.exclude(phone="").order_by("pk").first()


def _found(steward, q: str) -> bool:
    return person_search(user=steward, q=q).exists()


def test_key_change_then_rehash_restores_lookups(settings, steward, person_with_phone):
    person = person_with_phone
    assert _found(steward, person.id_number) and _found(steward, person.phone)

    settings.ZHIWANG_REGISTRY_HASH_KEY = "a-new-key-for-the-test"
    assert not _found(steward, person.id_number)  # the stored hashes are stale now
    assert not _found(steward, person.phone)

    total = Person.objects.count()
    seen: list[int] = []
    dry = person_hashes_rebuild(batch_size=7, dry_run=True, progress=seen.append)
    assert (dry.checked, dry.changed) == (total, total) and sum(seen) == total
    assert not _found(steward, person.id_number)  # a dry run writes nothing

    result = person_hashes_rebuild(batch_size=7)
    assert (result.checked, result.changed) == (total, total)
    assert _found(steward, person.id_number) and _found(steward, person.phone)
    again = person_hashes_rebuild(batch_size=7)
    assert again.changed == 0  # idempotent: a second run (or a resumed one) changes nothing


def test_command_reports_counts_and_rejects_bad_batch(settings, registry_demo):
    settings.ZHIWANG_REGISTRY_HASH_KEY = "another-key"
    out = io.StringIO()
    call_command("registry_rehash", "--no-progress", "--batch-size", "50", stdout=out)
    total = Person.objects.count()
    assert f"rehashed {total} of {total} people" in out.getvalue()
    out = io.StringIO()
    call_command("registry_rehash", "--no-progress", stdout=out)
    assert f"rehashed 0 of {total} people" in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("registry_rehash", "--no-progress", "--batch-size", "0")
