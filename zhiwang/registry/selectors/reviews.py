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


def with_reviews(*, user, rows: list) -> list:
    """The access log ``rows`` with each registration's review attached (``row.review``: the
    ``RegistrationReview`` named by a ``register_referred`` row's payload, with who decided it, or
    None), so the log says what became of the registration, not only that it was kept. One query;
    nothing attached for those who do not read the stewards' queue (``registration_reviews``)."""
    wanted = {
        row.payload.get("review")
        for row in rows
        if isinstance(row.payload, dict) and isinstance(row.payload.get("review"), int)
    }
    found = (
        {
            r.pk: r
            for r in registration_reviews(user=user, open_only=False)
            .select_related("resolved_by")
            .filter(pk__in=wanted)
        }
        if wanted
        else {}
    )
    for row in rows:
        pk = row.payload.get("review") if isinstance(row.payload, dict) else None
        row.review = found.get(pk)
    return rows
