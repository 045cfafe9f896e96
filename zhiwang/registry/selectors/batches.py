"""Reads about imports: batches, their report lines, the merge conflicts waiting for a data steward."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from zhiwang.registry.models import ImportBatch, ImportIssue
from zhiwang.registry.services import may_import, not_found


def import_batches(*, user) -> QuerySet[ImportBatch]:
    """Stewards see every batch; others none (an import is a city-level act)."""
    if not may_import(user):
        return ImportBatch.objects.none()
    return ImportBatch.objects.select_related("source", "template", "created_by").annotate(
        issue_count=Count("issues")
    )


def import_batch_get(*, user, pk: int) -> ImportBatch:
    batch = import_batches(user=user).filter(pk=pk).first()
    if batch is None:
        raise not_found()
    return batch


def import_issues(*, batch: ImportBatch) -> QuerySet[ImportIssue]:
    return ImportIssue.objects.filter(batch=batch).order_by("row", "pk")


def merge_conflicts(*, user, open_only: bool = True) -> QuerySet[ImportIssue]:
    """Merge conflicts the importer could not decide (another department names a record differently)."""
    if not may_import(user):  # the data stewards who settle them (``services.IMPORT_ROLES``)
        return ImportIssue.objects.none()
    qs = ImportIssue.objects.filter(
        code="merge.conflict", record_id__isnull=False, batch__validate_only=False
    ).select_related("batch__source")
    if open_only:
        qs = qs.filter(resolved_at__isnull=True)
    return qs.order_by("batch_id", "row")
