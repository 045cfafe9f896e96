"""Admin: the tables administrators edit (eligibility rules, mapping templates) and read-only logs.

People, entities and housing are changed through the pages and services (history,
masking); the admin shows them read-only and masked, never the plain ID number.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from zhiwang.registry.models import AccessLog, EligibilityRule, ImportBatch, MappingTemplate, Person


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(admin.ModelAdmin):
    list_display = (
        "service",
        "min_age",
        "max_age",
        "gender",
        "household_type",
        "key_group",
        "division",
        "is_active",
    )
    list_filter = ("is_active", "household_type", "key_group")
    search_fields = ("service", "description")
    autocomplete_fields = ("division",)


@admin.register(MappingTemplate)
class MappingTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "source", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name",)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Person)
class PersonAdmin(ReadOnly):
    list_display = ("name", "masked_id", "household_type", "community", "source", "last_confirmed_at")
    list_filter = ("household_type",)
    fields = (
        "name",
        "masked_id",
        "gender",
        "birth_year_month",
        "household_type",
        "community",
        "grid",
        "source",
        "import_batch",
        "last_confirmed_at",
    )
    readonly_fields = fields

    @admin.display(description=_("ID number"))
    def masked_id(self, obj):
        return obj.masked_id_number

    @admin.display(description=_("Birth month"))
    def birth_year_month(self, obj):
        return obj.birth_month


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnly):
    list_display = ("at", "actor", "action", "record_kind", "record_id", "note")
    list_filter = ("record_kind", "action")
    date_hierarchy = "at"


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnly):
    list_display = (
        "pk",
        "file_name",
        "kind",
        "source",
        "status",
        "rows_read",
        "rows_created",
        "rows_rejected",
        "created_at",
    )
    list_filter = ("kind", "status")
