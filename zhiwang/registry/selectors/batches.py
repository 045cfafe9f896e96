"""Reads about imports: batches, their report lines, the merge conflicts waiting for a data steward."""

from __future__ import annotations

from django.db.models import Count, F, QuerySet

from zhiwang.accounts.models import OrgUnit
from zhiwang.registry.models import SOURCE_UNIT_KINDS, ImportBatch, ImportIssue
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


def source_departments() -> QuerySet[OrgUnit]:
    """The units a file may come from (the import wizard's list): active units of the kinds that
    supply registry data (``models.SOURCE_UNIT_KINDS``), by division code then name, as the other
    unit lists are (city departments first, then each district's units); units serving no
    division last."""
    return (
        OrgUnit.objects.filter(is_active=True, kind__in=SOURCE_UNIT_KINDS)
        .select_related("division")
        .order_by(F("division__code").asc(nulls_last=True), "name", "code")
    )
