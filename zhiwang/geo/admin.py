"""The geo admin: names, aliases and boundaries by hand, checked as a load or an import checks them.

Two things every page here does besides saving:

* A new division or grid is checked with the rules of ``load-divisions`` and
  ``import-boundaries`` (``geo.services.division_problems`` / ``grid_problems``, and
  ``geo.boundaries.boundary_geometry`` for a boundary): a code that does not fit its level or
  does not lie under its parent would give it another division's code-prefix subtree, which is
  what jurisdictions and lists scan. A grid's point and area come from its boundary as the
  import computes them (``geo.boundaries.grid_place``), unless a point is typed with it.
* A grid added or deleted recounts the grid counts of its community and that community's
  ancestors (``geo.services.division_grid_counts_refresh``), not the whole tree; a building or
  room added, moved to another community, given another level or deleted (with the units and
  rooms below it) recounts the building and room counts of the old and new communities' chains
  (``geo.services.division_address_counts_refresh``). Both lock the chain's division rows in
  primary-key order, as the full ``division_stats_refresh`` locks every row (docs/geo.md).
* Every save and delete (inlines and the bulk delete action too) tells the in-memory indexes:
  the locate index (``boundaries_changed``: divisions and grids) and the address index
  (``addresses_changed``: aliases, buildings). Both bump a ``GeoIndexVersion`` row that every
  process reads in its index fingerprint, so all web nodes and workers rebuild, not just this one.
"""

from django import forms
from django.contrib import admin
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from zhiwang.core.admin_mixins import FixedOnceSavedMixin
from zhiwang.core.errors import FieldError, ServiceError
from zhiwang.geo.addressing import addresses_changed
from zhiwang.geo.boundaries import boundary_geometry, boundary_shape, grid_place
from zhiwang.geo.models import (
    AddressAlias,
    AddressLevel,
    Division,
    DivisionAlias,
    GeoIndexVersion,
    Grid,
    StandardAddress,
)
from zhiwang.geo.services import (
    boundaries_changed,
    coordinate_problems,
    division_address_counts_refresh,
    division_grid_counts_refresh,
    division_problems,
    grid_problems,
)


def _add_errors(form: forms.ModelForm, problems: list[FieldError]) -> None:
    for problem in problems:
        form.add_error(problem.field if problem.field in form.fields else None, problem.message)


class _PlaceForm(forms.ModelForm):
    """Checks shared by divisions and grids: the boundary parses (and is stored as an import
    stores it), the approximate point is a longitude/latitude pair. ``boundary`` is the checked
    shape of a new or changed boundary, else None."""

    boundary = None

    def clean(self):
        data = super().clean()
        text = (data.get("geometry") or "").strip()
        if "geometry" in self.fields and text and "geometry" in self.changed_data:
            try:
                self.boundary = boundary_shape(text)
            except ServiceError as exc:
                self.add_error("geometry", exc.message)
            else:
                data["geometry"] = boundary_geometry(text)
        if "lon" in self.fields and "lat" in self.fields:
            _add_errors(self, coordinate_problems(data.get("lon"), data.get("lat")))
        return data


class DivisionForm(_PlaceForm):
    class Meta:
        model = Division
        fields = [
            "code",
            "name",
            "short_name",
            "level",
            "parent",
            "special",
            "lon",
            "lat",
            "geometry",
            "geometry_source",
        ]

    def clean(self):
        data = super().clean()
        # code, parent and level are form fields on the add page only (fixed once saved)
        if {"code", "level", "parent"} <= set(self.fields) and data.get("code") and data.get("level"):
            _add_errors(
                self,
                division_problems(code=data["code"].strip(), level=data["level"], parent=data.get("parent")),
            )
        return data


class GridForm(_PlaceForm):
    """A grid's point and area follow its boundary as ``import-boundaries`` sets them
    (``grid_place``): the area whenever the boundary is new or changed (it measures the polygon),
    the point unless one is typed in the same submission (a steward's chosen point is kept)."""

    class Meta:
        model = Grid
        fields = ["code", "name", "community", "geometry", "geometry_source", "lon", "lat", "area_m2"]
        help_texts = {
            "lon": _("Left empty, a point inside the boundary, as import-boundaries sets it."),
            "lat": _("Left empty, a point inside the boundary, as import-boundaries sets it."),
            "area_m2": _("Measured from the boundary whenever the boundary changes."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("lon", "lat", "area_m2"):
            if name in self.fields:
                self.fields[name].required = False

    def clean(self):
        data = super().clean()
        if {"code", "community"} <= set(self.fields) and data.get("code"):
            _add_errors(self, grid_problems(code=data["code"].strip(), community=data.get("community")))
        if self.boundary is not None:
            lon, lat, data["area_m2"] = grid_place(self.boundary)
            # Both left empty, or both left as they were (the old boundary's point): the new one's.
            # Half a typed point is not completed: the empty half is reported below.
            both_empty = data.get("lon") is None and data.get("lat") is None
            if both_empty or not {"lon", "lat"} & set(self.changed_data):
                data["lon"], data["lat"] = lon, lat
        for name in ("lon", "lat"):
            if data.get(name) is None and name not in self.errors:
                self.add_error(name, self.fields[name].error_messages["required"])
        if data.get("area_m2") is None:  # cleared with the boundary unchanged: the measured value stays
            data["area_m2"] = self.instance.area_m2
        return data


#: The levels an address's parent may have: a unit hangs on a building, a room on a unit or
#: directly on a building without units (the resolver looks in both); a building tops the tree.
PARENT_LEVELS = {
    AddressLevel.BUILDING: frozenset(),
    AddressLevel.UNIT: frozenset({AddressLevel.BUILDING}),
    AddressLevel.ROOM: frozenset({AddressLevel.UNIT, AddressLevel.BUILDING}),
}


class StandardAddressForm(forms.ModelForm):
    """An address lies where its grid and its parent are: its grid is one of its community's, and
    a unit or room is in its parent's community, one level or two below it.

    The building and room counts follow ``community`` only (``division_address_counts_refresh``)
    while routing and the grid pages follow ``grid``: an address saved with another community's
    grid would be counted in one community and handled in the other, and a room in another
    community than its building counted away from the building it is read under.
    """

    class Meta:
        model = StandardAddress
        fields = [
            "code",
            "level",
            "parent",
            "community",
            "grid",
            "house_code",
            "road",
            "road_number",
            "estate",
            "name",
            "floor",
            "full_name",
            "lon",
            "lat",
        ]

    def clean(self):
        data = super().clean()
        level, parent = data.get("level"), data.get("parent")
        community, grid = data.get("community"), data.get("grid")
        if grid is not None and community is not None and grid.community_id != community.pk:
            self.add_error(
                "grid",
                forms.ValidationError(
                    _(
                        "The grid %(grid)s is in the community %(grid_community)s, not in %(community)s: "
                        "choose a grid of the address's community."
                    ),
                    code="geo.address_grid_community",
                    params={"grid": grid, "grid_community": grid.community, "community": community},
                ),
            )
        if parent is None or not level:
            return data
        if parent.level not in PARENT_LEVELS.get(level, frozenset()):
            messages = {
                AddressLevel.BUILDING: _(
                    "A building is the top of the address tree: leave its parent empty."
                ),
                AddressLevel.UNIT: _("A unit's parent must be a building."),
                AddressLevel.ROOM: _("A room's parent must be a unit or a building."),
            }
            self.add_error(
                "parent",
                forms.ValidationError(
                    messages.get(level, messages[AddressLevel.ROOM]), code="geo.address_parent_level"
                ),
            )
        if community is not None and parent.community_id != community.pk:
            self.add_error(
                "community",
                forms.ValidationError(
                    _(
                        "The parent address %(parent)s is in the community %(parent_community)s: "
                        "an address is in its parent's community."
                    ),
                    code="geo.address_parent_community",
                    params={"parent": parent, "parent_community": parent.community},
                ),
            )
        return data


class IndexedAdminMixin:
    """Saves and deletes reach the indexes (module docstring). ``indexes_changed(objects, before)``
    bumps the versions concerned (``objects``: a list of rows or the queryset of a bulk delete;
    ``before``: the form's initial values on a change); changed inline rows call ``inline_changed()``."""

    def indexes_changed(self, objects, before=None) -> None:
        raise NotImplementedError

    def inline_changed(self) -> None:
        addresses_changed()  # the inlines here are aliases, which only the address index holds

    def save_model(self, request, obj, form, change):
        before = getattr(form, "initial", {})
        super().save_model(request, obj, form, change)
        if not change or form.has_changed():
            self.indexes_changed([obj], before=before)

    def delete_model(self, request, obj):
        self.indexes_changed([obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=queryset.db):
            self.indexes_changed(queryset)
            super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.new_objects or formset.changed_objects or formset.deleted_objects:
            self.inline_changed()


class DivisionAliasInline(admin.TabularInline):
    model = DivisionAlias
    extra = 0


@admin.register(Division)
class DivisionAdmin(IndexedAdminMixin, FixedOnceSavedMixin, admin.ModelAdmin):
    form = DivisionForm
    inlines = [DivisionAliasInline]
    list_display = (
        "code",
        "name",
        "level",
        "parent",
        "special",
        "geometry_source",
        "grid_count",
        "building_count",
        "room_count",
    )
    list_filter = ("level", "geometry_source")
    search_fields = ("code", "name", "short_name")
    raw_id_fields = ("parent",)
    readonly_fields = ("grid_count", "building_count", "room_count", "updated_at")
    # A division's place in the tree changes only through load-divisions (docs/geo.md):
    # editing its code or parent here would leave the tickets' place columns, the rollups
    # and the code-prefix scoping on the old tree.
    fixed_once_saved = ("code", "parent", "level")

    def indexes_changed(self, objects, before=None) -> None:
        # The locate index holds the tree, names and boundaries; its version is part of the
        # address index's fingerprint too, so both rebuild.
        boundaries_changed()


@admin.register(Grid)
class GridAdmin(IndexedAdminMixin, FixedOnceSavedMixin, admin.ModelAdmin):
    form = GridForm
    list_display = ("code", "name", "community", "geometry_source", "area_m2")
    list_filter = ("geometry_source",)
    search_fields = ("code", "name", "community__name")
    raw_id_fields = ("community",)
    # A grid's community is its code's first 12 digits; moving it here would leave its
    # tickets counted under the old community (docs/geo.md).
    fixed_once_saved = ("code", "community")

    def indexes_changed(self, objects, before=None) -> None:
        boundaries_changed()

    # A grid's community is fixed once saved, so only an add or a delete changes a grid count.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            division_grid_counts_refresh([obj.community_id])

    def delete_model(self, request, obj):
        community_id = obj.community_id
        super().delete_model(request, obj)
        division_grid_counts_refresh([community_id])

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=queryset.db):
            communities = set(queryset.values_list("community_id", flat=True))
            super().delete_queryset(request, queryset)
            division_grid_counts_refresh(communities)


class AddressAliasInline(admin.TabularInline):
    model = AddressAlias
    extra = 0


@admin.register(StandardAddress)
class StandardAddressAdmin(IndexedAdminMixin, admin.ModelAdmin):
    form = StandardAddressForm
    list_display = ("code", "full_name", "level", "house_code", "grid")
    list_filter = ("level",)
    search_fields = ("code", "full_name", "house_code")
    raw_id_fields = ("parent", "community", "grid")
    inlines = [AddressAliasInline]
    show_full_result_count = False  # counting 11 M rooms on every list page is not affordable

    def indexes_changed(self, objects, before=None) -> None:
        # The address index holds buildings only (units and rooms are read under the building
        # found): a room's edit needs no rebuild of every process's index.
        if isinstance(objects, list):
            levels = {obj.level for obj in objects} | {(before or {}).get("level")}
            buildings = AddressLevel.BUILDING in levels
        else:
            buildings = objects.filter(level=AddressLevel.BUILDING).exists()
        if buildings:
            addresses_changed()

    # Buildings and rooms are counted per division (building_count, room_count): an add, a move
    # to another community, a change of level or a delete recounts the chains concerned.
    def save_model(self, request, obj, form, change):
        before = form.initial if change else {}
        super().save_model(request, obj, form, change)
        if {obj.level, before.get("level")} & COUNTED_LEVELS and (
            not change or {"community", "level"} & set(form.changed_data)
        ):
            division_address_counts_refresh({before.get("community"), obj.community_id})

    def delete_model(self, request, obj):
        with transaction.atomic():
            communities = counted_communities(StandardAddress.objects.filter(pk=obj.pk))
            super().delete_model(request, obj)
            division_address_counts_refresh(communities)

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=queryset.db):
            communities = counted_communities(queryset)
            super().delete_queryset(request, queryset)
            division_address_counts_refresh(communities)


#: The address levels a division counts (``building_count``, ``room_count``).
COUNTED_LEVELS = {AddressLevel.BUILDING, AddressLevel.ROOM}


def counted_communities(addresses) -> set[int]:
    """The communities whose counts deleting ``addresses`` changes: theirs and those of every
    address below them (a building's units and rooms go with it), for counted levels only.
    One query per level of the address tree (building → unit → room: three at most)."""
    communities: set[int] = set()
    rows = list(addresses.values_list("pk", "community_id", "level"))
    seen: set[int] = set()
    while rows:
        communities.update(community for _pk, community, level in rows if level in COUNTED_LEVELS)
        frontier = {pk for pk, _c, _l in rows} - seen
        seen |= frontier
        below = StandardAddress.objects.filter(parent_id__in=frontier).values_list(
            "pk", "community_id", "level"
        )
        rows = [row for row in below if row[0] not in seen]  # a parent cycle in bad data ends here
    return communities


@admin.register(GeoIndexVersion)
class GeoIndexVersionAdmin(admin.ModelAdmin):
    list_display = ("key", "version", "changed_at")
    readonly_fields = ("key", "version", "changed_at")


@admin.register(DivisionAlias)
class DivisionAliasAdmin(IndexedAdminMixin, admin.ModelAdmin):
    list_display = ("alias", "division")
    search_fields = ("alias", "division__name", "division__code")
    raw_id_fields = ("division",)

    def indexes_changed(self, objects, before=None) -> None:
        addresses_changed()
