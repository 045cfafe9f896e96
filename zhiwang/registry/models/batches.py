"""Imports of department files: mapping templates, batches, their committed chunks and their report lines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.registry.models.base import RecordKind

#: The kinds of org unit whose files feed the registry (the import wizard's "source department"
#: list and ``import_batch_create``): departments (police, market regulation, housing, the data
#: office), division offices (district governments and subdistrict offices keep the rental-housing
#: and resident registers their grid workers collect), grid stations (the grid workers' own
#: collection) and units of no named kind (an administrator chose "other" because the unit fits
#: none; blocking it would stop a real supplier without saying why). Left out: command centers and
#: service centers (they receive and dispatch requests; what they gather becomes tickets or the
#: owning department's records) and mediation organisations (their cases are disputes, never
#: registry data; the demo city alone has ~80 people's mediation committees).
SOURCE_UNIT_KINDS = (
    OrgUnitKind.DEPARTMENT,
    OrgUnitKind.DIVISION_OFFICE,
    OrgUnitKind.GRID_STATION,
    OrgUnitKind.OTHER,
)


class MappingTemplate(models.Model):
    """How a department's file maps to registry fields: ``{"身份证号码": "id_number", ...}``."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    kind = models.CharField(_("record kind"), max_length=16, choices=RecordKind.choices)
    columns = models.JSONField(_("columns"), default=dict, help_text=_("Header in the file → registry field"))
    source = models.ForeignKey(
        OrgUnit, verbose_name=_("default source department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("mapping template")
        verbose_name_plural = _("mapping templates")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")  # uploaded, not started
    RUNNING = (
        "running",
        pgettext_lazy("registry import", "Running"),
    )  # a worker is reading it (or crashed: run again to resume)
    DONE = "done", _("Done")  # every row read, report complete
    FAILED = "failed", _("Failed")  # the file could not be read at all (see error)
    VALIDATED = "validated", _("Validated, not published")  # checked only; a data steward publishes it


#: The stages that ended as they should: the import is complete, or the validation is (publishing
#: it starts a new stage, from 0). A failed batch did not finish: it shows how far it got.
FINISHED_STATUSES = (ImportStatus.DONE, ImportStatus.VALIDATED)


class ImportBatch(models.Model):
    """One import of one department file; re-running it resumes after the last committed chunk."""

    kind = models.CharField(_("record kind"), max_length=16, choices=RecordKind.choices)
    source = models.ForeignKey(OrgUnit, verbose_name=_("source department"), on_delete=models.PROTECT)
    template = models.ForeignKey(
        MappingTemplate, verbose_name=_("mapping template"), null=True, blank=True, on_delete=models.SET_NULL
    )
    columns = models.JSONField(_("columns"), default=dict)
    file_name = models.CharField(_("file name"), max_length=255)
    file_path = models.CharField(_("stored file"), max_length=500)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, db_index=True)
    chunk_size = models.PositiveIntegerField(_("rows per chunk"), default=1000)
    status = models.CharField(
        _("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    encoding = models.CharField(_("encoding"), max_length=16, blank=True)
    rows_total = models.PositiveIntegerField(_("rows in file"), null=True, blank=True)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    rows_created = models.PositiveIntegerField(_("records created"), default=0)
    rows_updated = models.PositiveIntegerField(_("records updated"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("records unchanged"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows rejected"), default=0)
    error = models.TextField(_("error"), blank=True)
    #: Check the file and report what would happen, writing nothing to the registry; a data
    #: steward then publishes the batch (``import_batch_publish``), which imports it for real.
    validate_only = models.BooleanField(_("validate only"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    #: The run that holds the batch (``imports.claim``): host, boot, process and a token of its
    #: own; empty when no run holds it. A run writes a chunk only while it still holds the batch.
    runner = models.CharField(_("run by"), max_length=200, blank=True)
    #: Last sign of life of the batch: claimed, a chunk committed, finished, published. A running
    #: batch silent for ``imports.claim.STALE_MINUTES`` is taken as abandoned (Resume takes it over).
    heartbeat_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    #: The stored file was deleted at the end of its keeping period (``imports.retention``): the
    #: batch and its counts stay, its report keeps no value, and it can no longer be resumed.
    file_purged_at = models.DateTimeField(_("file deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    @property
    def progress_percent(self) -> int:
        """How far the batch's current stage went: 100 once it finished (imported, or validated
        and waiting to be published); while it runs, and when it failed half-way, the share of
        rows read, never 100 (the last chunk's counters and the status are written after it)."""
        if self.status in FINISHED_STATUSES:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_read / self.rows_total))


class ImportChunk(models.Model):
    """Checkpoint: chunk ``number`` of a batch is committed (written in the chunk's own transaction)."""

    batch = models.ForeignKey(
        ImportBatch, verbose_name=_("import batch"), on_delete=models.CASCADE, related_name="chunks"
    )
    number = models.PositiveIntegerField(_("chunk"))
    first_row = models.PositiveIntegerField(_("first row"))
    last_row = models.PositiveIntegerField(_("last row"))
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    committed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("import chunk")
        verbose_name_plural = _("import chunks")
        constraints = [models.UniqueConstraint(fields=["batch", "number"], name="registry_chunk_unique")]

    def __str__(self) -> str:
        return f"#{self.batch_id}/{self.number} rows {self.first_row}-{self.last_row}"


class IssueSeverity(models.TextChoices):
    ERROR = "error", _("Rejected")  # the row did not land
    WARNING = "warning", _("Warning")  # the row landed, something in it was ignored


class ImportIssue(models.Model):
    """One line of the validation report: row, field, stable code, reason (nothing silently dropped)."""

    batch = models.ForeignKey(
        ImportBatch, verbose_name=_("import batch"), on_delete=models.CASCADE, related_name="issues"
    )
    row = models.PositiveIntegerField(_("row"))
    field = models.CharField(_("field"), max_length=64, blank=True)
    column = models.CharField(_("column"), max_length=64, blank=True)
    severity = models.CharField(_("severity"), max_length=8, choices=IssueSeverity.choices)
    code = models.CharField(pgettext_lazy("registry import", "code"), max_length=64)
    message = models.CharField(pgettext_lazy("registry import", "reason"), max_length=500)
    value = models.CharField(_("value (masked)"), max_length=255, blank=True)
    #: For a merge conflict: the record concerned, and who settled it when (the steward's queue).
    record_id = models.BigIntegerField(_("record id"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolution = models.CharField(_("resolution"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("import issue")
        verbose_name_plural = _("import issues")
        ordering = ["row", "pk"]
        indexes = [models.Index(fields=["batch", "row"], name="registry_issue_batch_row")]

    def __str__(self) -> str:
        return f"row {self.row} {self.field}: {self.code}"
