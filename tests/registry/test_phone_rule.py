"""The platform's phone rule (``core.phones``) in the registry: registration, the import (its fast
path too) and search refuse a mistyped mobile (``phone.invalid``); numbers keep the stored form and
the keyed hash they had before (a foreign number without its "+")."""

from __future__ import annotations

from datetime import date

import pytest

from zhiwang.core.errors import ServiceError
from zhiwang.registry import selectors, services
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.hashing import id_number_hash, keyed_hash
from zhiwang.registry.imports import pipeline
from zhiwang.registry.imports.fast_clean import fast_person_cleaner
from zhiwang.registry.models import ImportIssue, Person
from zhiwang.registry.validation import clean_person

IDS = [make_id_number("440305", date(1960 + i, 4, 1 + i), 300 + i, male=i % 2 == 0) for i in range(4)]
MISTYPED = ["1381234567", "138 1234 567", "+86 138-1234-567", "138123456789", "1234567"]


@pytest.mark.parametrize("phone", MISTYPED)
def test_clean_person_and_its_fast_path_refuse_a_mistyped_mobile(phone):
    row = {"id_number": IDS[0], "name": "张三", "household_type": "户籍", "phone": phone}
    assert fast_person_cleaner()(row) is None  # the full cleaner reports it
    cleaned = clean_person(row)
    assert [(e.field, e.code) for e in cleaned.errors] == [("phone", "phone.invalid")]


@pytest.mark.django_db
def test_registration_refuses_a_mistyped_mobile(steward):
    with pytest.raises(ServiceError) as info:
        services.person_register(
            actor=steward, data={"id_number": IDS[0], "name": "某人", "phone": "1381234567"}
        )
    assert (info.value.code, info.value.field) == ("phone.invalid", "phone")
    assert not Person.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("phone", "stored", "searchable"),
    [
        ("+86 138-1234-5678", "13812345678", True),
        ("0755-8888 8888", "075588888888", True),
        # the registry has always dropped the "+"; search takes mainland numbers only, as before
        ("+44 20 7946 0958", "442079460958", False),
    ],
)
def test_registration_stores_and_hashes_phones_as_before(steward, phone, stored, searchable):
    person, _created = services.person_register(
        actor=steward, data={"id_number": IDS[1], "name": "某人", "phone": phone}
    )
    assert person.phone == stored
    assert person.phone_hash == keyed_hash("phone", stored)
    found = list(selectors.person_search(user=steward, q=phone))
    assert [p.pk for p in found] == ([person.pk] if searchable else [])


@pytest.mark.django_db
@pytest.mark.usefixtures("import_dir")
def test_an_import_refuses_a_plain_row_with_a_mistyped_mobile(steward, source_unit, template, tmp_path):
    path = tmp_path / "people.csv"
    rows = [
        ["姓名", "公民身份号码", "人口类型", "联系电话"],
        ["张三", IDS[2], "户籍", "1381234567"],  # otherwise plain: the fast path's kind of row
        ["李四", IDS[3], "户籍", "13812345678"],
    ]
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    batch = pipeline.import_batch_create(
        actor=steward, kind="person", source=source_unit, file_path=path, template=template
    )
    batch = pipeline.import_batch_run(batch=batch)
    assert (batch.rows_created, batch.rows_rejected) == (1, 1)
    issue = ImportIssue.objects.get(batch=batch)
    assert (issue.row, issue.field, issue.code) == (2, "phone", "phone.invalid")
    assert not Person.objects.filter(id_number_hash=id_number_hash(IDS[2])).exists()
    assert Person.objects.get(id_number_hash=id_number_hash(IDS[3])).phone == "13812345678"
