"""The wide counter tables every dashboard reads, and the vocabularies of their figures.

``RollupFact`` (fine), ``RollupArea`` (coarse), ``RollupUnit``, ``OpenStock`` and ``AddressDay``
are maintained in the same transaction as each ticket transition (one upsert per table) and
rebuildable from the timeline by set-based SQL; ``NodeLevel`` and ``Dimension`` say where a
figure sits in the place tree and how it is broken down.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class NodeLevel(models.TextChoices):
    """Where a figure sits in the place tree (a grid is below its community)."""

    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    SUBDISTRICT = "subdistrict", _("Subdistrict")
    COMMUNITY = "community", _("Community")
    GRID = "grid", _("Grid")


class Dimension(models.TextChoices):
    """A breakdown of a figure: a column of the wide rollup tables (dimensions are crossed)."""

    CATEGORY = "category", _("Category")
    CHANNEL = "channel", _("Channel")
    KIND = "kind", _("Kind")
    UNIT = "unit", _("Handling unit")
    ADDRESS = "address", _("Address")


#: Counters of a rollup row, each the number of events of one kind on the day (docs/analytics.md).
#: ``open`` and ``overdue_open`` are +1/−1 flows: their running sum is a stock (``OpenStock``).
FLOW_FIELDS = (
    "received",
    "dispatched",
    "reassigned",
    "returned",
    "replied",
    "closed",
    "closed_on_time",
    "rejected",
    "merged",
    "transferred",
    "overdue",
    "urged",
    "supervised",
    "follow_ups",
    "reopened",
    "rated",
    "resolved",
    "satisfied",
    "basically_satisfied",
    "unsatisfied",
)
STOCK_FIELDS = ("open", "overdue_open")
COUNTER_FIELDS = FLOW_FIELDS + STOCK_FIELDS


class Counters(models.Model):
    """One integer column per metric (a wide row: one upsert per event, not one row per metric)."""

    received = models.IntegerField(_("received"), default=0)
    dispatched = models.IntegerField(_("dispatched"), default=0)
    reassigned = models.IntegerField(_("reassigned"), default=0)
    returned = models.IntegerField(_("returned"), default=0)
    replied = models.IntegerField(_("replied"), default=0)
    closed = models.IntegerField(_("closed"), default=0)
    closed_on_time = models.IntegerField(_("closed on time"), default=0)
    rejected = models.IntegerField(_("rejected"), default=0)
    merged = models.IntegerField(_("merged"), default=0)
    #: Transfers to another procedure (移交): they leave the open stock without being closed.
    transferred = models.IntegerField(_("transferred"), default=0)
    overdue = models.IntegerField(_("became overdue"), default=0)
    urged = models.IntegerField(_("urged"), default=0)
    supervised = models.IntegerField(_("supervised"), default=0)
    follow_ups = models.IntegerField(_("follow-ups"), default=0)
    reopened = models.IntegerField(_("reopened"), default=0)
    rated = models.IntegerField(_("rated"), default=0)
    resolved = models.IntegerField(_("resolved"), default=0)
    satisfied = models.IntegerField(_("satisfied"), default=0)
    basically_satisfied = models.IntegerField(_("basically satisfied"), default=0)
    unsatisfied = models.IntegerField(_("unsatisfied"), default=0)
    open = models.IntegerField(_("opened − finished"), default=0)
    overdue_open = models.IntegerField(_("overdue entered − left"), default=0)

    class Meta:
        abstract = True


class RollupFact(Counters):
    """The fine fact table: one row per day × community × grid × category × channel × kind × unit.

    Place columns are plain integers (0: the ticket is not located that finely; ``unit_id`` 0: the
    event names no unit), the district and subdistrict denormalised on the row, so every level
    is a ``GROUP BY`` over one index range. Derived data, rebuilt at will: no foreign keys.
    """

    day = models.DateField(_("day"))
    district_id = models.IntegerField(_("district"), default=0)
    subdistrict_id = models.IntegerField(_("subdistrict"), default=0)
    community_id = models.IntegerField(_("community"), default=0)
    grid_id = models.IntegerField(_("grid"), default=0)
    category_id = models.IntegerField(_("category"), default=0)
    channel = models.CharField(_("channel"), max_length=16, default="")
    kind = models.CharField(_("kind"), max_length=16, default="")
    unit_id = models.IntegerField(_("handling unit"), default=0)

    KEY = (
        "day",
        "district_id",
        "subdistrict_id",
        "community_id",
        "grid_id",
        "category_id",
        "channel",
        "kind",
        "unit_id",
    )

    class Meta:
        verbose_name = _("daily fact")
        verbose_name_plural = _("daily facts")
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "district_id",
                    "subdistrict_id",
                    "community_id",
                    "grid_id",
                    "category_id",
                    "channel",
                    "kind",
                    "unit_id",
                ],
                name="analytics_fact_key",
            )
        ]
        indexes = [
            models.Index(fields=["subdistrict_id", "day"], name="analytics_fact_sub_day"),
            models.Index(fields=["community_id", "day"], name="analytics_fact_com_day"),
            models.Index(fields=["grid_id", "day"], name="analytics_fact_grid_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.community_id}/{self.grid_id} {self.category_id}"


class RollupArea(Counters):
    """The coarse table: day × subdistrict × category × channel × kind (city, district, subdistrict figures)."""

    day = models.DateField(_("day"))
    district_id = models.IntegerField(_("district"), default=0)
    subdistrict_id = models.IntegerField(_("subdistrict"), default=0)
    category_id = models.IntegerField(_("category"), default=0)
    channel = models.CharField(_("channel"), max_length=16, default="")
    kind = models.CharField(_("kind"), max_length=16, default="")

    KEY = ("day", "district_id", "subdistrict_id", "category_id", "channel", "kind")

    class Meta:
        verbose_name = _("daily area rollup")
        verbose_name_plural = _("daily area rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "district_id", "subdistrict_id", "category_id", "channel", "kind"],
                name="analytics_area_key",
            )
        ]
        indexes = [
            models.Index(fields=["district_id", "day"], name="analytics_area_dist_day"),
            models.Index(fields=["subdistrict_id", "day"], name="analytics_area_sub_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.subdistrict_id} {self.category_id}"


class RollupUnit(Counters):
    """Per handling unit: day × subdistrict × unit (the unit table and breakdown above a community)."""

    day = models.DateField(_("day"))
    district_id = models.IntegerField(_("district"), default=0)
    subdistrict_id = models.IntegerField(_("subdistrict"), default=0)
    unit_id = models.IntegerField(_("handling unit"), default=0)

    KEY = ("day", "district_id", "subdistrict_id", "unit_id")

    class Meta:
        verbose_name = _("daily unit rollup")
        verbose_name_plural = _("daily unit rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "district_id", "subdistrict_id", "unit_id"], name="analytics_unit_key"
            )
        ]
        indexes = [
            models.Index(fields=["district_id", "day"], name="analytics_unit_dist_day"),
            models.Index(fields=["subdistrict_id", "day"], name="analytics_unit_sub_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.subdistrict_id} unit {self.unit_id}"


class OpenStock(models.Model):
    """Current open tickets (and those in an overdue episode) per community × grid × category.

    The running sum of the ``open``/``overdue_open`` flows, kept by the same upserts: the stock at
    the end of a past window is this minus the flows of the days since.
    """

    district_id = models.IntegerField(_("district"), default=0)
    subdistrict_id = models.IntegerField(_("subdistrict"), default=0)
    community_id = models.IntegerField(_("community"), default=0)
    grid_id = models.IntegerField(_("grid"), default=0)
    category_id = models.IntegerField(_("category"), default=0)
    open = models.IntegerField(_("open"), default=0)
    overdue_open = models.IntegerField(_("open and overdue"), default=0)

    KEY = ("district_id", "subdistrict_id", "community_id", "grid_id", "category_id")

    class Meta:
        verbose_name = _("open stock")
        verbose_name_plural = _("open stock")
        constraints = [
            models.UniqueConstraint(
                fields=["district_id", "subdistrict_id", "community_id", "grid_id", "category_id"],
                name="analytics_stock_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.community_id}/{self.grid_id} {self.category_id}: {self.open}"


class AddressDay(models.Model):
    """Arrivals per standard address and day (recurring addresses, address clusters)."""

    day = models.DateField(_("day"))
    address_id = models.IntegerField(_("address"))
    district_id = models.IntegerField(_("district"), default=0)
    subdistrict_id = models.IntegerField(_("subdistrict"), default=0)
    community_id = models.IntegerField(_("community"), default=0)
    grid_id = models.IntegerField(_("grid"), default=0)
    received = models.IntegerField(_("received"), default=0)

    KEY = ("day", "address_id", "district_id", "subdistrict_id", "community_id", "grid_id")

    class Meta:
        verbose_name = _("address arrivals")
        verbose_name_plural = _("address arrivals")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "address_id", "district_id", "subdistrict_id", "community_id", "grid_id"],
                name="analytics_address_key",
            )
        ]
        indexes = [
            models.Index(fields=["subdistrict_id", "day"], name="analytics_address_sub_day"),
            models.Index(fields=["community_id", "day"], name="analytics_address_com_day"),
            models.Index(fields=["address_id", "day"], name="analytics_address_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.address_id}: {self.received}"
