"""Admin: Open311 client applications and their keys, service attributes, submissions.

A key is issued from "Add Open311 client" (or the action "Issue a new key"): the page that
follows shows it once, is never cached, and the key is not stored anywhere but in the
client's hands (only its SHA-256 is kept).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from zhiwang.core.errors import ServiceError
from zhiwang.open311 import services
from zhiwang.open311.models import Open311Client, Open311Submission, ServiceAttribute


class IssueKeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=128)
    contact = forms.CharField(label=gettext_lazy("contact"), max_length=255, required=False)


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "key_prefix", "contact", "state", "key_issued_at", "last_used_at", "revoked_at")
    search_fields = ("name", "contact", "key_prefix")
    fields = ("name", "contact", "key_prefix", "key_issued_at", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_prefix", "key_issued_at", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_keys", "reissue_key"]

    @admin.display(description=gettext_lazy("state"))
    def state(self, obj):
        return _("revoked") if obj.revoked_at else pgettext("API key state", "active")

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the submissions keep pointing at the client that made them.
        return False

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    def _key_page(self, request, issued):
        response = TemplateResponse(
            request,
            "admin/open311/open311client/key_issued.html",
            self._context(request, title=_("The new Open311 key"), client=issued.client, key=issued.key),
        )
        add_never_cache_headers(response)
        return response

    def add_view(self, request, form_url="", extra_context=None):
        """Register a client and show its key once (instead of the generic add form)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = IssueKeyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                issued = services.open311_client_create(
                    name=form.cleaned_data["name"], contact=form.cleaned_data["contact"]
                )
            except ServiceError as exc:
                form.add_error("name" if exc.field == "name" else None, exc.message)
            else:
                self.log_addition(request, issued.client, [{"added": {}}])
                return self._key_page(request, issued)
        return TemplateResponse(
            request,
            "admin/open311/open311client/issue_key.html",
            self._context(request, title=_("Register an Open311 client"), form=form, add=True),
        )

    @admin.action(description=gettext_lazy("Revoke the keys of the selected clients"), permissions=["change"])
    def revoke_keys(self, request, queryset):
        count = 0
        for client in queryset:
            if client.revoked_at is None:
                services.open311_client_revoke(client=client)
                self.log_change(request, client, _("Key revoked."))
                count += 1
        self.message_user(request, _("%(count)s key(s) revoked.") % {"count": count}, messages.SUCCESS)

    @admin.action(
        description=gettext_lazy("Issue a new key (the old key stops working)"), permissions=["change"]
    )
    def reissue_key(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one client."), messages.ERROR)
            return None
        client = queryset.get()
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/open311/open311client/confirm_reissue.html",
                self._context(request, title=_("Issue a new key?"), client=client),
            )
        issued = services.open311_key_reissue(client=client)
        self.log_change(request, client, _("New key issued."))
        return self._key_page(request, issued)


@admin.register(ServiceAttribute)
class ServiceAttributeAdmin(admin.ModelAdmin):
    list_display = ("category", "code", "datatype", "required", "variable", "order", "is_active")
    list_filter = ("datatype", "required", "is_active")
    search_fields = ("code", "description", "category__code", "category__name")
    autocomplete_fields = ("category",)
    ordering = ("category__code", "order")


@admin.register(Open311Submission)
class Open311SubmissionAdmin(admin.ModelAdmin):
    """Read-only: what each client posted (contact details are personal data)."""

    list_display = ("ticket", "client", "client_request_id", "created_at")
    list_filter = ("client",)
    search_fields = ("ticket__number", "client_request_id")
    raw_id_fields = ("ticket",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
