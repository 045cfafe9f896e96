"""Divisions, grids and standard addresses: the places everything hangs on.

Geometry is stored as GeoJSON text in WGS84 (lon, lat) and indexed in memory
with shapely's STRtree (see ``geo.locator``), so neither SpatiaLite nor PostGIS
is needed. Codes follow DOMAIN.md ("Codes and identifiers").
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from zhiwang.core.scoping import ScopedQuerySet


class DivisionLevel(models.TextChoices):
    CITY = "city", _("City")  # 市
    DISTRICT = "district", _("District")  # 区
    SUBDISTRICT = "subdistrict", _("Subdistrict")  # 街道 (and township-level special zones)
    COMMUNITY = "community", _("Community")  # 社区 / 居委会 / 村委会


#: How many leading digits of the 12-digit code identify a division of each level.
LEVEL_PREFIX_LENGTH = {
    DivisionLevel.CITY: 4,
    DivisionLevel.DISTRICT: 6,
    DivisionLevel.SUBDISTRICT: 9,
    DivisionLevel.COMMUNITY: 12,
}

LEVEL_DEPTH = {
    DivisionLevel.CITY: 0,
    DivisionLevel.DISTRICT: 1,
    DivisionLevel.SUBDISTRICT: 2,
    DivisionLevel.COMMUNITY: 3,
}


class GeometrySource(models.TextChoices):
    NONE = "", _("None")
    SYNTHETIC = "synthetic", _("Synthetic (demo)")
    IMPORTED = "imported", _("Imported boundary")


class DivisionQuerySet(ScopedQuerySet):
    scope_division_field = "self"

    def of_level(self, level: str) -> DivisionQuerySet:
        return self.filter(level=level)

    def descendants_of(self, division: Division, *, include_self: bool = False) -> DivisionQuerySet:
        """Every division below ``division``, by code prefix (index-friendly range scan)."""
        prefix = division.code_prefix
        qs = self.filter(code__startswith=prefix)
        if not include_self:
            qs = qs.exclude(pk=division.pk)
        return qs


class Division(models.Model):
    """An administrative division with its official 12-digit statistical code (NBS).

    The code is hierarchical: district 6 + subdistrict 3 + community 3 digits, so
    ``code_prefix`` selects a whole subtree. ``grid_count``, ``building_count`` and
    ``room_count`` are maintained by ``geo.services.division_stats_refresh`` (and, for the
    chains an admin save changes, ``division_chain_counts_refresh``) so the division browser
    never counts millions of rows on a page view.
    """

    code = models.CharField(_("division code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=64)
    short_name = models.CharField(_("short name"), max_length=64, blank=True)
    level = models.CharField(_("level"), max_length=16, choices=DivisionLevel.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    special = models.CharField(
        _("special unit"), max_length=64, blank=True, help_text=_("Special zone or virtual community, if any")
    )
    lon = models.FloatField(_("longitude (WGS84)"), null=True, blank=True)
    lat = models.FloatField(_("latitude (WGS84)"), null=True, blank=True)
    geometry = models.TextField(_("boundary (GeoJSON, WGS84)"), blank=True)
    geometry_source = models.CharField(
        _("boundary source"), max_length=16, choices=GeometrySource.choices, blank=True, default=""
    )
    grid_count = models.PositiveIntegerField(_("grids"), default=0)
    building_count = models.PositiveIntegerField(_("buildings"), default=0)
    room_count = models.PositiveIntegerField(_("rooms"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = DivisionQuerySet.as_manager()

    class Meta:
        verbose_name = _("division")
        verbose_name_plural = _("divisions")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def code_prefix(self) -> str:
        return self.code[: LEVEL_PREFIX_LENGTH[self.level]]

    @property
    def depth(self) -> int:
        return LEVEL_DEPTH[self.level]

    @property
    def display_name(self) -> str:
        return self.short_name or self.name


class GridQuerySet(ScopedQuerySet):
    scope_division_field = "community"
    scope_grid_field = "self"


class Grid(models.Model):
    """A basic grid (基础网格): a polygon inside one community, patrolled by its members.

    Code: 15 characters = 6 district + 3 subdistrict + 3 community + 3 sequence,
    numbered west→east, north→south inside the community (DOMAIN.md).
    """

    code = models.CharField(_("grid code"), max_length=15, unique=True)
    name = models.CharField(_("name"), max_length=64)
    community = models.ForeignKey(
        Division, verbose_name=_("community"), on_delete=models.PROTECT, related_name="grids"
    )
    geometry = models.TextField(_("boundary (GeoJSON, WGS84)"))
    geometry_source = models.CharField(
        _("boundary source"), max_length=16, choices=GeometrySource.choices, default=GeometrySource.SYNTHETIC
    )
    lon = models.FloatField(_("longitude (WGS84)"))
    lat = models.FloatField(_("latitude (WGS84)"))
    area_m2 = models.FloatField(_("area (m²)"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = GridQuerySet.as_manager()

    class Meta:
        verbose_name = _("grid")
        # "grids" alone is also the division's grid count (网格数): the model's name has its own context
        verbose_name_plural = pgettext_lazy("model name", "grids")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def sequence(self) -> int:
        return int(self.code[12:])


class AddressLevel(models.TextChoices):
    BUILDING = "building", _("Building")  # 楼栋
    UNIT = "unit", pgettext_lazy("address level", "Unit")  # 单元 (a bare "Unit" is an org unit, 单位)
    ROOM = "room", _("Room")  # 房屋


class AddressQuerySet(ScopedQuerySet):
    scope_division_field = "community"
    scope_grid_field = "grid"


class StandardAddress(models.Model):
    """A standard address (标准地址): a building, a unit in it, or a room in a unit.

    ``code`` is Zhiwang's stable identifier and never changes. ``house_code`` is the
    Shenzhen 25-digit house code (19 digits for a building); it embeds the grid, so it
    is kept as an external, versioned identifier and never used as a key.
    """

    code = models.CharField(_("address code"), max_length=32, unique=True)
    level = models.CharField(_("level"), max_length=16, choices=AddressLevel.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
    )
    community = models.ForeignKey(
        Division, verbose_name=_("community"), on_delete=models.PROTECT, related_name="addresses"
    )
    grid = models.ForeignKey(
        Grid,
        verbose_name=_("grid"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="addresses",
    )
    house_code = models.CharField(_("house code"), max_length=25, blank=True, db_index=True)
    road = models.CharField(_("road"), max_length=64, blank=True)
    road_number = models.CharField(_("road number"), max_length=16, blank=True)
    estate = models.CharField(_("estate or compound"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=32, help_text=_("e.g. 3栋, 2单元, 1201"))
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)
    full_name = models.CharField(_("full address"), max_length=255)
    lon = models.FloatField(_("longitude (WGS84)"), null=True, blank=True)
    lat = models.FloatField(_("latitude (WGS84)"), null=True, blank=True)

    objects = AddressQuerySet.as_manager()

    class Meta:
        verbose_name = _("standard address")
        verbose_name_plural = _("standard addresses")
        ordering = ["code"]
        indexes = [
            # building list of a grid / community page
            models.Index(fields=["grid", "level"], name="geo_addr_grid_level"),
            models.Index(fields=["community", "level"], name="geo_addr_comm_level"),
        ]

    def __str__(self) -> str:
        return self.full_name


class AddressAlias(models.Model):
    """Another name people use for a standard address (common name, old name, abbreviation)."""

    address = models.ForeignKey(
        StandardAddress, verbose_name=_("standard address"), on_delete=models.CASCADE, related_name="aliases"
    )
    alias = models.CharField(_("alias"), max_length=128, db_index=True)

    class Meta:
        verbose_name = _("address alias")
        verbose_name_plural = _("address aliases")
        constraints = [models.UniqueConstraint(fields=["address", "alias"], name="geo_alias_unique")]

    def __str__(self) -> str:
        return self.alias


class GeoIndexVersion(models.Model):
    """One row whose counter goes up whenever a boundary or grid changes.

    Each web node compares it with the version its in-memory STRtree was built
    from and rebuilds when it differs, so nodes stay stateless and consistent.
    """

    key = models.CharField(max_length=16, unique=True, default="boundaries")
    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("geo index version")
        verbose_name_plural = _("geo index versions")

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


class DivisionAlias(models.Model):
    """Another name people write for a division: a common or former name (科技园 → 粤海街道,
    龙华新区 → 龙华区). Short forms (南山 → 南山区, 粤海 → 粤海街道) need no row: the address
    matcher derives them from the division's name and short name."""

    division = models.ForeignKey(
        Division, verbose_name=_("division"), on_delete=models.CASCADE, related_name="aliases"
    )
    alias = models.CharField(_("alias"), max_length=64, db_index=True)

    class Meta:
        verbose_name = _("division alias")
        verbose_name_plural = _("division aliases")
        constraints = [
            models.UniqueConstraint(fields=["division", "alias"], name="geo_division_alias_unique")
        ]

    def __str__(self) -> str:
        return self.alias
