"""What every registry record shares: its kind, its scoped queryset, its provenance and its place."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.scoping import ScopedQuerySet
from zhiwang.geo.models import Division, Grid


class RecordKind(models.TextChoices):
    PERSON = "person", _("Person")  # 实有人口
    ENTITY = "entity", _("Legal entity")  # 实有法人
    HOUSING = "housing", _("Housing")  # 实有房屋


#: The order of a record's stays (residences, operations), newest first on every backend: the open
#: ones first, then by start with an unknown start (``since`` empty: an import that gave no date)
#: after the known ones — PostgreSQL sorts NULL first in a descending order, SQLite last — then by id.
STAY_ORDER = (
    models.F("until").desc(nulls_first=True),
    models.F("since").desc(nulls_last=True),
    models.F("pk").desc(),
)


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
