"""Merge conflicts of imports, settled by a data steward."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import Conflict, ServiceError
from zhiwang.registry.models import LegalEntity, Person, RecordKind
from zhiwang.registry.services.access import _denied, may_import
from zhiwang.registry.services.entities import entity_correct
from zhiwang.registry.services.people import person_correct


@dataclass(frozen=True)
class ConflictSettled:
    """What settling a conflict did, for the steward's confirmation: the record (as it is now), its
    name before, the field, the value it holds now, the other department and its value."""

    record: models.Model
    name_before: str
    field: str
    value: str
    source_name: str
    other_value: str
    accepted: bool


@transaction.atomic
def merge_conflict_resolve(*, issue, actor, accept: bool) -> ConflictSettled:
    """A data steward settles a merge conflict: keep the stored value, or take the other department's.

    Taking it is a correction (a history row) on behalf of that department: the row names it as
    the source, so the value's source is that department from then on (``value_sources``).
    Accepting a value the record already holds settles the conflict as accepted, with no
    change row (there is no change)."""
    from zhiwang.registry.models import ImportIssue

    if not may_import(actor):
        raise _denied(_("Only data stewards settle merge conflicts."))
    issue = ImportIssue.objects.select_for_update().select_related("batch__source").get(pk=issue.pk)
    if issue.code != "merge.conflict" or issue.record_id is None:
        raise ServiceError("registry.not_a_conflict", _("This line is not a merge conflict."))
    if issue.resolved_at is not None:
        raise Conflict("registry.already_resolved", _("Somebody settled this conflict already."))
    model = Person if issue.batch.kind == RecordKind.PERSON else LegalEntity
    record = model.objects.select_for_update().get(pk=issue.record_id)
    name_before = record.name
    if accept:
        note = _("Merge conflict settled: value of %(source)s (import #%(batch)s, row %(row)s).") % {
            "source": issue.batch.source.name,
            "batch": issue.batch_id,
            "row": issue.row,
        }
        correct = person_correct if model is Person else entity_correct
        kwargs = {"person": record} if model is Person else {"entity": record}
        # The steward settles the field whatever else changed since: the version just read.
        try:
            record = correct(
                **kwargs,
                actor=actor,
                data={issue.field: issue.value},
                note=note,
                expected_version=record.version,
                source=issue.batch.source,
            )
        except ServiceError as error:
            # The record already holds the other department's value (corrected by hand, or a
            # later file): accepting it changes nothing, so it is settled without a history row.
            if error.code != "registry.nothing_changed":
                raise
    issue.resolved_at = timezone.now()
    issue.resolved_by = actor
    issue.resolution = "accepted" if accept else "kept"
    issue.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return ConflictSettled(
        record=record,
        name_before=name_before,
        field=issue.field,
        value=str(getattr(record, issue.field, "") or ""),
        source_name=issue.batch.source.name,
        other_value=issue.value,
        accepted=accept,
    )
