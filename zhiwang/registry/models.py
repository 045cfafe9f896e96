"""Registry models: people, legal entities and housing, linked by standard address (see docs/registry.md).

Every record carries its provenance (source department, import batch and row, last
confirmed) and every change appends a :class:`RecordChange` row. ID numbers and
phones are looked up through a keyed hash (``registry.hashing``), never by scanning
the plain value; lists and exports show them masked.

Scoping: a person, entity or housing record belongs to the community (and grid) of its
current place, copied onto the record so ``visible_to(user)`` is one indexed filter.
A record with no known place is seen only by city-wide roles.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.masking import mask_id_number, mask_name, mask_phone
from zhiwang.core.scoping import ScopedQuerySet
from zhiwang.core.workflow import TimelineEntry
from zhiwang.geo.models import Division, Grid, StandardAddress


class RecordKind(models.TextChoices):
    PERSON = "person", _("Person")  # 实有人口
    ENTITY = "entity", _("Legal entity")  # 实有法人
    HOUSING = "housing", _("Housing")  # 实有房屋


class RegistryQuerySet(ScopedQuerySet):
    scope_division_field = "community"
    scope_grid_field = "grid"


class Provenance(models.Model):
    """Where a record came from and when somebody last confirmed it (on every registry record)."""

    source = models.ForeignKey(
        OrgUnit,
        verbose_name=_("source department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    import_batch = models.ForeignKey(
        "registry.ImportBatch",
        verbose_name=_("import batch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    import_row = models.PositiveIntegerField(_("import row"), null=True, blank=True)
    last_confirmed_at = models.DateTimeField(_("last confirmed at"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        abstract = True


class Placed(models.Model):
    """The community and grid of the record's current place (copied for scoping, kept by services)."""

    community = models.ForeignKey(
        Division,
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class HouseholdType(models.TextChoices):
    REGISTERED = "registered", _("Registered resident")  # 户籍人口
    MIGRANT = "migrant", _("Migrant resident")  # 流动人口


class Person(Provenance, Placed):
    """A person living or registered in the city (实有人口).

    ``id_number`` is validated (GB 11643) and never filtered on: lookups go through
    ``id_number_hash`` (HMAC-SHA256, ``registry.hashing``). Gender and birth date are
    derived from the ID number when the record is written.
    """

    id_number = models.CharField(_("ID number"), max_length=18)
    id_number_hash = models.CharField(_("ID number hash"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=64, db_index=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices)
    birth_date = models.DateField(_("birth date"))
    household_type = models.CharField(
        _("household type"), max_length=16, choices=HouseholdType.choices, default=HouseholdType.REGISTERED
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    phone_hash = models.CharField(_("phone hash"), max_length=64, blank=True, db_index=True)
    ethnicity = models.CharField(_("ethnicity"), max_length=16, blank=True)
    household_address = models.CharField(_("household registration address"), max_length=255, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["name", "pk"]
        permissions = [("reveal_personal_data", _("Can see unmasked ID numbers and phones (logged)"))]
        indexes = [
            # residents of a community (key-group lists, scoped name search); grid has its FK index.
            # On PostgreSQL ``name`` uses the "C" collation (migration 0004), so these indexes
            # also serve name-prefix search (LIKE 'x%') in name order.
            models.Index(fields=["community", "name"], name="registry_person_comm_name"),
        ]

    def __str__(self) -> str:
        return self.masked_name

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    def age_on(self, day: date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())


class EntityType(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")  # 企业
    INDIVIDUAL_BUSINESS = "individual_business", _("Individual business")  # 个体工商户
    SOCIAL_ORGANIZATION = "social_organization", _("Social organization")  # 社会组织
    PUBLIC_INSTITUTION = "public_institution", _("Public institution")  # 事业单位
    GOVERNMENT = "government", _("Government body")  # 机关
    OTHER = "other", _("Other")


class LegalEntity(Provenance, Placed):
    """A legal entity (实有法人), keyed by its unified social credit code (GB 32100)."""

    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    name = models.CharField(_("name"), max_length=128, db_index=True)
    entity_type = models.CharField(
        _("entity type"), max_length=32, choices=EntityType.choices, default=EntityType.ENTERPRISE
    )
    legal_representative = models.CharField(_("legal representative"), max_length=64, blank=True)
    industry = models.CharField(_("industry"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("legal entity")
        verbose_name_plural = _("legal entities")
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["community", "name"], name="registry_entity_comm_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    @property
    def masked_representative(self) -> str:
        return mask_name(self.legal_representative)


class HousingUse(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential")
    COMMERCIAL = "commercial", _("Commercial")
    OFFICE = "office", _("Office")
    INDUSTRIAL = "industrial", _("Industrial")
    MIXED = "mixed", _("Mixed")
    OTHER = "other", _("Other")


class Occupancy(models.TextChoices):
    OWNER_OCCUPIED = "owner_occupied", _("Owner-occupied")  # 自住
    RENTED = "rented", _("Rented")  # 出租
    VACANT = "vacant", _("Vacant")  # 空置
    BUSINESS = "business", _("Business premises")  # 经营
    UNKNOWN = "unknown", _("Unknown")


class Housing(Provenance, Placed):
    """Housing at room level (实有房屋): one row per standard address (room, or a whole building)."""

    address = models.OneToOneField(
        StandardAddress, verbose_name=_("standard address"), on_delete=models.PROTECT, related_name="housing"
    )
    use = models.CharField(
        _("use"), max_length=16, choices=HousingUse.choices, default=HousingUse.RESIDENTIAL
    )
    owner_name = models.CharField(_("owner"), max_length=128, blank=True)
    owner_phone = models.CharField(_("owner phone"), max_length=20, blank=True)
    is_rental = models.BooleanField(_("rental housing"), default=False)
    occupancy = models.CharField(
        _("occupancy"), max_length=16, choices=Occupancy.choices, default=Occupancy.UNKNOWN
    )
    area_m2 = models.DecimalField(_("area (m²)"), max_digits=9, decimal_places=2, null=True, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("housing")
        verbose_name_plural = _("housing")
        ordering = ["address__code"]

    def __str__(self) -> str:
        return self.address.full_name

    @property
    def masked_owner(self) -> str:
        return mask_name(self.owner_name)


class ResidenceKind(models.TextChoices):
    HOUSEHOLD = "household", _("Household registration")  # 户籍地
    LIVING = "living", _("Living here")  # 居住地
    TENANT = "tenant", _("Tenant")  # 租住


class Residence(Provenance, Placed):
    """A person living at (or registered to) a room from ``since`` until ``until`` (open = current)."""

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="residences"
    )
    address = models.ForeignKey(
        StandardAddress,
        verbose_name=_("standard address"),
        on_delete=models.PROTECT,
        related_name="residences",
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=ResidenceKind.choices, default=ResidenceKind.LIVING
    )
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("residence")
        verbose_name_plural = _("residences")
        ordering = ["-since", "pk"]
        indexes = [
            # who lives in this room now (building and room pages)
            models.Index(fields=["address", "until"], name="registry_res_addr_until"),
            models.Index(fields=["person", "until"], name="registry_res_person_until"),
        ]

    def __str__(self) -> str:
        return f"{self.person} @ {self.address}"

    @property
    def is_current(self) -> bool:
        return self.until is None or self.until >= timezone.localdate()


class Operation(Provenance, Placed):
    """A legal entity operating at a standard address from ``since`` until ``until`` (open = current)."""

    entity = models.ForeignKey(
        LegalEntity, verbose_name=_("legal entity"), on_delete=models.CASCADE, related_name="operations"
    )
    address = models.ForeignKey(
        StandardAddress,
        verbose_name=_("standard address"),
        on_delete=models.PROTECT,
        related_name="operations",
    )
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        ordering = ["-since", "pk"]
        indexes = [models.Index(fields=["address", "until"], name="registry_op_addr_until")]

    def __str__(self) -> str:
        return f"{self.entity} @ {self.address}"


class KeyGroup(models.TextChoices):
    """Key groups (重点人群) for the care modules; data about them is need-to-know."""

    ELDERLY_ALONE = "elderly_alone", _("Elderly living alone")  # 独居老人
    DISABLED = "disabled", _("Person with disability")  # 残疾人
    LOW_INCOME = "low_income", _("Low-income household")  # 低保户
    LEFT_BEHIND_CHILD = "left_behind_child", _("Left-behind child")  # 留守儿童
    MENTAL_DISORDER = "mental_disorder", _("Serious mental disorder patient")  # 严重精神障碍患者
    COMMUNITY_CORRECTION = "community_correction", _("Community correction subject")  # 社区矫正对象
    KEY_PETITIONER = "key_petitioner", _("Key petitioner")  # 重点信访人员


#: Tags that only the roles caring for them may see (DOMAIN.md: need-to-know).
SENSITIVE_KEY_GROUPS = frozenset(
    {KeyGroup.MENTAL_DISORDER, KeyGroup.COMMUNITY_CORRECTION, KeyGroup.KEY_PETITIONER}
)


class PersonTag(Provenance):
    """A key-group tag on a person, with its period."""

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="tags"
    )
    group = models.CharField(_("key group"), max_length=32, choices=KeyGroup.choices)
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("key-group tag")
        verbose_name_plural = _("key-group tags")
        constraints = [models.UniqueConstraint(fields=["person", "group"], name="registry_tag_unique")]

    def __str__(self) -> str:
        return self.get_group_display()


class PersonSource(models.Model):
    """One department's statement about a person: kept for every department that supplied it (merge)."""

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="sources"
    )
    source = models.ForeignKey(OrgUnit, verbose_name=_("source department"), on_delete=models.PROTECT)
    import_batch = models.ForeignKey(
        "registry.ImportBatch", verbose_name=_("import batch"), null=True, on_delete=models.PROTECT
    )
    last_confirmed_at = models.DateTimeField(_("last confirmed at"), default=timezone.now)

    class Meta:
        verbose_name = _("person source")
        verbose_name_plural = _("person sources")
        constraints = [
            models.UniqueConstraint(fields=["person", "source"], name="registry_person_source_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source} · {self.last_confirmed_at:%Y-%m-%d}"


class EntitySource(models.Model):
    """One department's statement about a legal entity (merge with provenance kept)."""

    entity = models.ForeignKey(
        LegalEntity, verbose_name=_("legal entity"), on_delete=models.CASCADE, related_name="sources"
    )
    source = models.ForeignKey(OrgUnit, verbose_name=_("source department"), on_delete=models.PROTECT)
    import_batch = models.ForeignKey(
        "registry.ImportBatch", verbose_name=_("import batch"), null=True, on_delete=models.PROTECT
    )
    last_confirmed_at = models.DateTimeField(_("last confirmed at"), default=timezone.now)

    class Meta:
        verbose_name = _("entity source")
        verbose_name_plural = _("entity sources")
        constraints = [
            models.UniqueConstraint(fields=["entity", "source"], name="registry_entity_source_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source} · {self.last_confirmed_at:%Y-%m-%d}"


class RecordChange(TimelineEntry):
    """Append-only change history of every registry record (created, imported, merged, corrected).

    ``payload["changes"]`` is ``{field: [old, new]}``; ID numbers and phones appear masked.
    """

    record_kind = models.CharField(_("record kind"), max_length=16, choices=RecordKind.choices)
    record_id = models.BigIntegerField(_("record id"))
    source = models.ForeignKey(
        OrgUnit,
        verbose_name=_("source department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    import_batch = models.ForeignKey(
        "registry.ImportBatch",
        verbose_name=_("import batch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta(TimelineEntry.Meta):
        verbose_name = _("record change")
        verbose_name_plural = _("record changes")
        indexes = [models.Index(fields=["record_kind", "record_id", "at"], name="registry_change_record")]


class AccessLog(TimelineEntry):
    """A full (unmasked) view of personal data: who, whom, when, why. Append-only."""

    record_kind = models.CharField(_("record kind"), max_length=16, choices=RecordKind.choices)
    record_id = models.BigIntegerField(_("record id"))

    class Meta(TimelineEntry.Meta):
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        indexes = [models.Index(fields=["record_kind", "record_id", "at"], name="registry_access_record")]


# --- imports ----------------------------------------------------------------------


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
    RUNNING = "running", _("Running")  # a worker is reading it (or crashed: run again to resume)
    DONE = "done", _("Done")  # every row read, report complete
    FAILED = "failed", _("Failed")  # the file could not be read at all (see error)
    VALIDATED = "validated", _("Validated, not published")  # checked only; a data steward publishes it


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

    class Meta:
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    @property
    def progress_percent(self) -> int:
        if self.status == ImportStatus.DONE:
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
    code = models.CharField(_("code"), max_length=64)
    message = models.CharField(_("reason"), max_length=500)
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


# --- eligibility ------------------------------------------------------------------


class EligibilityRule(models.Model):
    """An administrator-edited rule: who at which place may claim which service (e.g. age >= 70)."""

    service = models.CharField(_("service"), max_length=128, help_text=_("e.g. 高龄津贴 (elderly allowance)"))
    description = models.TextField(_("description"), blank=True)
    min_age = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True)
    household_type = models.CharField(
        _("household type"), max_length=16, choices=HouseholdType.choices, blank=True
    )
    key_group = models.CharField(_("key group"), max_length=32, choices=KeyGroup.choices, blank=True)
    division = models.ForeignKey(
        Division,
        verbose_name=_("division"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("Only residents living inside this division (empty: the whole city)."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("eligibility rule")
        verbose_name_plural = _("eligibility rules")
        ordering = ["service", "pk"]

    def __str__(self) -> str:
        return self.service
