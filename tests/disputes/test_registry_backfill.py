"""Backfill of older visitors and parties to the registry (``zhiwang disputes-link-registry``)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.disputes.conftest import APPLICANT_ID, ENTITY_CODE, parties
from tests.disputes.test_registry_link import REG_ID, _entity, _person, _register
from zhiwang.disputes.models import Party, Visitor
from zhiwang.disputes.services.backfill import registry_backfill, registry_backfill_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_rows(world, make_case):
    """Rows as they were before the registry link: identifiers typed, no link yet."""
    known = make_case(
        parties=parties(**{"0__identifier": REG_ID, "1__kind": "entity", "1__identifier": ENTITY_CODE})
    )
    unknown = make_case()  # APPLICANT_ID: not in the registry
    visit = _register(world, visitor_name="欧阳", visitor_id_number=REG_ID)
    stranger = _register(world, key="k-stranger", visitor_name="赵六", visitor_id_number=APPLICANT_ID)
    # The registry records arrive later (an import): nothing is linked yet.
    Party.objects.update(person=None, entity=None)
    Visitor.objects.update(person=None)
    person, entity = _person(world.community), _entity(world.community)
    return {
        "known": known,
        "unknown": unknown,
        "visitor": visit.visitor,
        "stranger": stranger.visitor,
        "person": person,
        "entity": entity,
    }


def test_dry_run_counts_and_changes_nothing(old_rows):
    assert registry_backfill_count() == 6  # 2 visitors, 3 person parties, 1 entity party
    result = registry_backfill(dry_run=True)
    assert (result.visitors_linked, result.person_parties_linked, result.entity_parties_linked) == (1, 1, 1)
    assert (result.visitors_checked, result.person_parties_checked, result.entity_parties_checked) == (
        2,
        3,
        1,
    )
    assert not Party.objects.filter(person__isnull=False).exists()
    assert not Party.objects.filter(entity__isnull=False).exists()
    assert not Visitor.objects.filter(person__isnull=False).exists()


def test_backfill_links_batchwise_and_is_idempotent(old_rows):
    result = registry_backfill(batch_size=1)
    assert result.linked == 3
    known = old_rows["known"]
    assert known.parties.get(role="applicant").person_id == old_rows["person"].pk
    assert known.parties.get(role="respondent").entity_id == old_rows["entity"].pk
    assert not old_rows["unknown"].parties.filter(person__isnull=False).exists()
    old_rows["visitor"].refresh_from_db()
    old_rows["stranger"].refresh_from_db()
    assert old_rows["visitor"].person_id == old_rows["person"].pk and old_rows["stranger"].person_id is None
    # Typed values are kept.
    assert known.parties.get(role="applicant").name == "张三丰"
    again = registry_backfill()
    assert again.linked == 0 and again.person_parties_checked == 2  # only the still-unlinked rows


def test_an_existing_link_is_never_overwritten(old_rows, world):
    other = _person(world.community, ident=APPLICANT_ID, name="别人")
    applicant = old_rows["known"].parties.get(role="applicant")
    Party.objects.filter(pk=applicant.pk).update(person=other)  # picked by hand meanwhile
    registry_backfill()
    applicant.refresh_from_db()
    assert applicant.person_id == other.pk


def test_the_command(old_rows):
    out = io.StringIO()
    call_command("disputes_link_registry", "--dry-run", "--no-progress", stdout=out)
    assert "would link 3" in out.getvalue()
    assert not Visitor.objects.filter(person__isnull=False).exists()
    out, err = io.StringIO(), io.StringIO()
    call_command("disputes_link_registry", "--batch-size", "2", stdout=out, stderr=err)
    assert "linked 3" in out.getvalue()
    out = io.StringIO()
    call_command("disputes_link_registry", "--no-progress", stdout=out)
    assert "linked 0" in out.getvalue()
