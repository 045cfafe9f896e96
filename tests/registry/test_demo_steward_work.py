"""The demo leaves its data steward work: merge conflicts and registrations to check, made through
the real services, the same for a seed, replaced (never doubled) by a second run."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from zhiwang.registry import selectors, services
from zhiwang.registry.demo import demo_registry_clear, demo_registry_create
from zhiwang.registry.demo_steward import MERGE_SOURCE
from zhiwang.registry.models import (
    ImportBatch,
    ImportIssue,
    ImportStatus,
    Person,
    RecordChange,
    RegistrationReview,
    Residence,
    ReviewStatus,
)

pytestmark = pytest.mark.usefixtures("import_dir")


@pytest.fixture
def communities(home_community, luohu_community):
    return [home_community, luohu_community]


def _build(communities, seed=3, steward_work=True):
    return demo_registry_create(scale="small", seed=seed, communities=communities, steward_work=steward_work)


def _work(steward):
    """What the steward's two lists hold, by natural keys (person pks change with every run)."""
    conflicts = {
        (Person.objects.get(pk=issue.record_id).id_number, issue.field, issue.value)
        for issue in selectors.merge_conflicts(user=steward)
    }
    reviews = {
        (review.person.id_number, review.registered_by.username, review.address.code, review.why)
        for review in selectors.registration_reviews(user=steward)
    }
    return conflicts, reviews


def test_the_demo_steward_finds_conflicts_and_registrations_to_check(communities, steward, grid_worker):
    # given the demo accounts (the session's city), when the demo registry is built
    result = _build(communities)

    # then the home page's two lists of the steward hold a handful each
    conflicts = list(selectors.merge_conflicts(user=steward))
    reviews = list(selectors.registration_reviews(user=steward))
    assert 3 <= len(conflicts) == result.conflicts <= 6
    assert 1 <= len(reviews) == result.reviews <= 2

    # the conflicts come from a published import of a second department's file, validated first
    batch = ImportBatch.objects.get(source__code=MERGE_SOURCE[0])
    assert {c.batch_id for c in conflicts} == {batch.pk}
    assert (batch.status, batch.validate_only, batch.created_by, batch.published_by) == (
        ImportStatus.DONE,
        False,
        steward,
        steward,
    )
    assert batch.rows_rejected == 0 and batch.rows_unchanged == batch.rows_read > len(conflicts)
    for conflict in conflicts:
        person = Person.objects.get(pk=conflict.record_id)
        # another spelling of the police's name, which the import kept
        assert conflict.field == "name" and conflict.value != person.name
        assert len(conflict.value) == len(person.name) and conflict.value[0] == person.name[0]
        assert "深圳市公安局" in conflict.message
    # the file changed no record: no history row names the batch (so the rebuild may delete it)
    assert not RecordChange.objects.filter(import_batch=batch).exists()

    # the registrations: the grid worker's, of people on record outside their area, at their grid
    for review in reviews:
        assert review.registered_by == grid_worker and review.status == ReviewStatus.PENDING
        assert review.why == "outside" and not services.in_scope(grid_worker, review.person)
        assert review.address.grid_id in grid_worker.scope.grid_ids
        assert review.source == grid_worker.org_unit
    # the steward's home page counts them and the page lists them
    client = Client()
    client.force_login(steward)
    home = client.get("/").content.decode()
    assert reverse("registry:conflicts") in home
    page = client.get(reverse("registry:conflicts"))
    assert page.status_code == 200
    assert all(conflict.value in page.content.decode() for conflict in conflicts)
    # nobody else sees either list
    assert not selectors.merge_conflicts(user=grid_worker).exists()
    assert not selectors.registration_reviews(user=grid_worker).exists()


def test_a_second_run_replaces_the_work_and_leaves_no_orphans(communities, steward, grid_worker):
    _build(communities)
    first = _work(steward)
    # the steward settles one of each meanwhile (a correction row, a move: the rebuild must not trip)
    issue = selectors.merge_conflicts(user=steward).first()
    services.merge_conflict_resolve(issue=issue, actor=steward, accept=True)
    review = selectors.registration_reviews(user=steward).first()
    services.registration_review_resolve(review=review, actor=steward, moved=True)

    again = _build(communities)

    # the same work again, not twice, and every conflict names a person that exists
    assert _work(steward) == first
    assert (again.conflicts, again.reviews) == (len(first[0]), len(first[1]))
    assert ImportBatch.objects.filter(source__code=MERGE_SOURCE[0]).count() == 1
    open_ids = ImportIssue.objects.filter(code="merge.conflict").values_list("record_id", flat=True)
    assert Person.objects.filter(pk__in=open_ids).count() == len(set(open_ids)) == len(first[0])
    assert RegistrationReview.objects.count() == len(first[1])


def test_the_work_follows_the_seed(communities, steward):
    _build(communities, seed=3)
    first = _work(steward)
    _build(communities, seed=4)
    assert _work(steward) != first


def test_clearing_the_registry_takes_the_work_with_it(
    communities, steward, django_capture_on_commit_callbacks
):
    _build(communities)
    stored = Path(ImportBatch.objects.get(source__code=MERGE_SOURCE[0]).file_path)
    assert stored.exists()
    with django_capture_on_commit_callbacks(execute=True):
        demo_registry_clear()
    assert not stored.exists()  # the demo's file goes with its batch
    assert not selectors.merge_conflicts(user=steward, open_only=False).exists()
    assert not RegistrationReview.objects.exists() and not Residence.objects.exists()
    assert not ImportBatch.objects.filter(source__code=MERGE_SOURCE[0]).exists()


def test_a_plain_build_leaves_no_work_and_clears_an_earlier_one(communities, steward):
    # the tests' demo registry (tests/registry/conftest.py) stays plain: no conflicts, no reviews
    _build(communities)
    result = _build(communities, steward_work=False)
    assert (result.conflicts, result.reviews) == (0, 0)
    assert not selectors.merge_conflicts(user=steward, open_only=False).exists()
    assert not RegistrationReview.objects.exists()
    assert not ImportBatch.objects.filter(source__code=MERGE_SOURCE[0]).exists()


def test_without_the_demo_accounts_the_registry_is_built_without_the_work(communities, steward, grid_worker):
    steward.is_active = grid_worker.is_active = False
    steward.save(update_fields=["is_active"])
    grid_worker.save(update_fields=["is_active"])
    result = _build(communities)
    assert result.people > 0 and (result.conflicts, result.reviews) == (0, 0)
    assert not ImportBatch.objects.filter(source__code=MERGE_SOURCE[0]).exists()
