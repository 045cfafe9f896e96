"""Reads about registrations kept for a data steward (``RegistrationReview``)."""

from __future__ import annotations

from django.db.models import QuerySet

from zhiwang.registry.models import RegistrationReview, ReviewStatus
from zhiwang.registry.services import may_import


def registration_reviews(*, user, open_only: bool = True) -> QuerySet[RegistrationReview]:
    """The registrations of known ID numbers a data steward decides (oldest first); none for others:
    the record they name may lie anywhere in the city, as the merge conflicts' do."""
    if not may_import(user):
        return RegistrationReview.objects.none()
    qs = RegistrationReview.objects.select_related("person__community", "address", "registered_by", "source")
    if open_only:
        qs = qs.filter(status=ReviewStatus.PENDING)
    return qs.order_by("created_at", "pk")
