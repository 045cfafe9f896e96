from django.contrib import admin

from zhiwang.core.admin_mixins import FixedOnceSavedMixin
from zhiwang.geo.models import AddressAlias, Division, DivisionAlias, GeoIndexVersion, Grid, StandardAddress


class DivisionAliasInline(admin.TabularInline):
    model = DivisionAlias
    extra = 0


@admin.register(Division)
class DivisionAdmin(FixedOnceSavedMixin, admin.ModelAdmin):
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


@admin.register(Grid)
class GridAdmin(FixedOnceSavedMixin, admin.ModelAdmin):
    list_display = ("code", "name", "community", "geometry_source", "area_m2")
    list_filter = ("geometry_source",)
    search_fields = ("code", "name", "community__name")
    raw_id_fields = ("community",)
    # A grid's community is its code's first 12 digits; moving it here would leave its
    # tickets counted under the old community (docs/geo.md).
    fixed_once_saved = ("code", "community")


class AddressAliasInline(admin.TabularInline):
    model = AddressAlias
    extra = 0


@admin.register(StandardAddress)
class StandardAddressAdmin(admin.ModelAdmin):
    list_display = ("code", "full_name", "level", "house_code", "grid")
    list_filter = ("level",)
    search_fields = ("code", "full_name", "house_code")
    raw_id_fields = ("parent", "community", "grid")
    inlines = [AddressAliasInline]
    show_full_result_count = False  # counting 11 M rooms on every list page is not affordable


@admin.register(GeoIndexVersion)
class GeoIndexVersionAdmin(admin.ModelAdmin):
    list_display = ("key", "version", "changed_at")
    readonly_fields = ("key", "version", "changed_at")


@admin.register(DivisionAlias)
class DivisionAliasAdmin(admin.ModelAdmin):
    list_display = ("alias", "division")
    search_fields = ("alias", "division__name", "division__code")
    raw_id_fields = ("division",)
