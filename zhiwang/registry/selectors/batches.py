"""Reads about imports: batches, their report lines, the merge conflicts waiting for a data steward."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, QuerySet

from zhiwang.accounts.models import OrgUnit
from zhiwang.registry.models import (
    SOURCE_UNIT_KINDS,
    ImportBatch,
    ImportIssue,
    IssueSeverity,
    MappingTemplate,
    RecordKind,
)
from zhiwang.registry.services import may_import, not_found
from zhiwang.registry.validation import FIELDS, REQUIRED


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


def import_batch_ids_of_file(*, sha256: str) -> set[int]:
    """The batches that hold a file of these bytes (the wizard tells a new batch from an old one)."""
    return set(ImportBatch.objects.filter(file_sha256=sha256).values_list("pk", flat=True))


#: The import page lists at most this many report lines (the Excel report has them all).
REPORT_PAGE_LINES = 500


def import_issues(*, batch: ImportBatch, limit: int = REPORT_PAGE_LINES) -> list[ImportIssue]:
    """The first ``limit`` report lines: the rejected rows first, then the warnings, each by row.

    Two reads on the ``(batch, row)`` index, one per severity, rather than one sorted by severity:
    a batch may hold a warning for most of its million rows (an address matching no standard
    address), and the page polls this every second while the batch runs."""
    lines = list(
        ImportIssue.objects.filter(batch=batch, severity=IssueSeverity.ERROR).order_by("row", "pk")[:limit]
    )
    if len(lines) < limit:
        lines += (
            ImportIssue.objects.exclude(severity=IssueSeverity.ERROR)
            .filter(batch=batch)
            .order_by("row", "pk")[: limit - len(lines)]
        )
    return lines


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


# --- what a mapping template expects (the import wizard's guide and sample files) -------------

#: One obviously invented value per field for a template's sample file: 张三, a "示例" address that
#: matches no standard address (a warning for people and entities), an ID number and a credit
#: code made only to pass their check digits, the 138 0000 0000 test number. Never real data.
SAMPLE_VALUES = {
    RecordKind.PERSON: {
        "id_number": "440305199001010018",
        "name": "张三",
        "household_type": "户籍",
        "phone": "13800000000",
        "address": "示例市示例区示例路1号",
        "since": "2020-01-01",
        "ethnicity": "汉族",
        "household_address": "示例市示例区示例路1号",
        "birth_date": "1990-01-01",
        "gender": "男",
    },
    RecordKind.ENTITY: {
        "credit_code": "91440300MA5EXAMP1F",
        "name": "示例科技有限公司",
        "entity_type": "企业",
        "legal_representative": "张三",
        "industry": "软件和信息技术服务业",
        "phone": "13800000000",
        "address": "示例市示例区示例路1号",
        "founded_on": "2015-06-01",
        "since": "2020-01-01",
    },
    RecordKind.HOUSING: {
        "address": "示例市示例区示例路1号101室",
        "use": "住宅",
        "owner_name": "张三",
        "owner_phone": "13800000000",
        "is_rental": "否",
        "occupancy": "自住",
        "area_m2": "89.5",
    },
}


@dataclass
class TemplateColumn:
    """One registry field of a template: the headers a file may give it (any one of them)."""

    field: str
    label: str
    headers: list[str]
    required: bool


@dataclass
class TemplateGuide:
    template: MappingTemplate
    columns: list[TemplateColumn] = field(default_factory=list)

    @property
    def missing_required(self) -> list[TemplateColumn]:
        """Required fields the template names no header for (a file then needs extra columns)."""
        return [column for column in self.columns if column.required and not column.headers]

    def sample_rows(self) -> list[list[str]]:
        """The sample file: the first header of each field the template maps, and one invented row."""
        columns = [column for column in self.columns if column.headers]
        values = SAMPLE_VALUES.get(self.template.kind, {})
        return [
            [column.headers[0] for column in columns],
            [values.get(column.field, "") for column in columns],
        ]


def mapping_template_guide(template: MappingTemplate) -> TemplateGuide:
    """The fields of ``template``'s record kind in the registry's order, each with the headers
    the template maps to it; required fields always listed (flagged when the template has none),
    optional ones only when the template maps them. Headers mapped to an unknown field are left
    out (the importer ignores them too)."""
    fields = FIELDS.get(template.kind, {})
    headers: dict[str, list[str]] = {}
    for header, name in (template.columns or {}).items():
        if name in fields:
            headers.setdefault(name, []).append(header)
    required = REQUIRED.get(template.kind, ())
    guide = TemplateGuide(template=template)
    for name, label in fields.items():
        if name in headers or name in required:
            guide.columns.append(
                TemplateColumn(
                    field=name, label=str(label), headers=headers.get(name, []), required=name in required
                )
            )
    return guide


def mapping_template_guides() -> list[TemplateGuide]:
    """Every mapping template's guide, in the wizard's order (kind, then name)."""
    return [mapping_template_guide(template) for template in MappingTemplate.objects.order_by("kind", "name")]


def mapping_template_get(*, user, pk: int) -> MappingTemplate:
    """A mapping template, for the data stewards who import (others: not found)."""
    template = MappingTemplate.objects.filter(pk=pk).first() if may_import(user) else None
    if template is None:
        raise not_found()
    return template
