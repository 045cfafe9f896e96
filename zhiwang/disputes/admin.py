"""Admin for the configurable tables (function areas, categories) and the registry of organisations."""

from django.contrib import admin

from zhiwang.disputes.models import (
    CaseEvent,
    DisputeCategory,
    FunctionArea,
    MediationOrganisation,
    Mediator,
    ServiceCentre,
)


@admin.register(FunctionArea)
class FunctionAreaAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "mediation_type", "sort_order", "is_active"]
    list_editable = ["name", "sort_order", "is_active"]


@admin.register(DisputeCategory)
class DisputeCategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "sort_order", "is_active"]
    list_editable = ["name", "sort_order", "is_active"]


class MediatorInline(admin.TabularInline):
    model = Mediator
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(MediationOrganisation)
class MediationOrganisationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "mediation_type", "division", "is_active"]
    list_filter = ["kind", "mediation_type", "is_active"]
    search_fields = ["code", "name"]
    raw_id_fields = ["division", "org_unit"]
    filter_horizontal = ["categories"]
    inlines = [MediatorInline]


@admin.register(ServiceCentre)
class ServiceCentreAdmin(admin.ModelAdmin):
    list_display = ["name", "division", "org_unit", "is_active"]
    raw_id_fields = ["division", "org_unit"]


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    """Read-only: the timeline is append-only."""

    list_display = ["at", "case", "action", "from_state", "to_state", "actor"]
    list_filter = ["action"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
