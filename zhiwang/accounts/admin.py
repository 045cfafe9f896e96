from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from zhiwang.accounts import services
from zhiwang.accounts.models import ApiToken, GridAssignment, IntegrationClient, LoginAttempt, OrgUnit, User
from zhiwang.core.admin_mixins import FixedOnceSavedMixin


@admin.register(OrgUnit)
class OrgUnitAdmin(FixedOnceSavedMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent", "division", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")
    raw_id_fields = ("parent", "division")
    # filters, routing rules, reports and integrations name a unit by its code
    fixed_once_saved = ("code",)


class GridAssignmentInline(admin.TabularInline):
    model = GridAssignment
    extra = 0
    raw_id_fields = ("grid",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "full_name", "role", "org_unit", "is_active", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "full_name")
    raw_id_fields = ("org_unit",)
    filter_horizontal = ("jurisdictions", "groups", "user_permissions")
    inlines = [GridAssignmentInline]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Role and jurisdiction"), {"fields": ("role", "full_name", "phone", "org_unit", "jurisdictions")}),
    )


@admin.register(IntegrationClient)
class IntegrationClientAdmin(admin.ModelAdmin):
    list_display = ("name", "org_unit", "contact", "is_active", "created_at")
    raw_id_fields = ("service_user", "org_unit")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "prefix",
        "user",
        "client",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    readonly_fields = ("prefix", "key_hash", "parent", "created_at", "last_used_at")
    raw_id_fields = ("user", "client")

    def has_add_permission(self, request):
        # Keys are issued through the API or `zhiwang api-token create`, which show the key once.
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.revoked_at is not None and "revoked_at" in form.changed_data:
            # revoked here: the tokens issued with it go too, as with every other revocation
            services.api_token_revoke(token=obj)


@admin.register(LoginAttempt)
class LoginAttemptAdmin(admin.ModelAdmin):
    list_display = ("username", "ip", "succeeded", "at")
    list_filter = ("succeeded",)
    search_fields = ("username", "ip")

    def has_change_permission(self, request, obj=None):
        return False
