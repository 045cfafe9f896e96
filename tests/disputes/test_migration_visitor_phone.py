"""Migration disputes 0012: the phones ``Visitor`` rows kept from before phones were kept per centre
are blanked; the visits keep theirs, and the rest of the visitor stays.

A transactional test (it migrates) in its own file: pytest-django empties every table after it.
"""

from __future__ import annotations

import pytest

from tests.disputes.conftest import APPLICANT_ID
from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("disputes", "0011_amount_involved_from_agreements")]
AFTER = [("disputes", "0012_visitor_phone_blanked")]


@pytest.mark.django_db(transaction=True)
def test_visitor_phones_are_blanked_and_visits_keep_theirs(city_restored, world):
    from zhiwang.disputes.models import Visit, Visitor
    from zhiwang.disputes.services import visit_register

    # given a visitor whose row still holds a phone recorded at some centre (as before the change)
    visit = visit_register(
        centre=world.centre,
        actor=world.window,
        area_code="peoples_mediation",
        visitor_name="王小明",
        visitor_id_number=APPLICANT_ID,
        visitor_phone="13800138000",
        matter="邻里噪音纠纷",
        idempotency_key="v1",
    ).visit
    Visitor.objects.filter(pk=visit.visitor_id).update(phone="13800138000")
    bare = Visitor.objects.create(name="赵六")
    # when the migration runs
    try:
        migrate_to(BEFORE)
        migrate_to(AFTER)
    finally:
        migrate_to_latest()
    # then no visitor keeps a phone; the visit and the visitor's identity are untouched
    assert not Visitor.objects.exclude(phone="").exists()
    visitor = Visitor.objects.get(pk=visit.visitor_id)
    assert visitor.name == "王小明" and visitor.id_number == APPLICANT_ID and visitor.id_hash
    assert Visit.objects.get(pk=visit.pk).visitor_phone == "13800138000"
    assert Visitor.objects.get(pk=bare.pk).name == "赵六"
