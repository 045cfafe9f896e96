"""Django admin for the work calendar and administrator notices.

Rows edited here become ``source = admin`` so re-seeding never overwrites them, and
every change tells the calendar service, which reloads this process at once (others
within ``ZHIWANG_CALENDAR_CHECK_SECONDS``) and closes coverage notices of years now complete.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from zhiwang.core.admin_mixins import FixedOnceSavedMixin
from zhiwang.core.models import (
    AdminNotice,
    CalendarDay,
    CalendarSource,
    CalendarYear,
    WorkingWindow,
    WorkSchedule,
)
from zhiwang.core.workcalendar.services import calendar_tables_changed


class CalendarAdminMixin:
    """Marks hand-edited rows as the administrator's and tells the calendar service."""

    def save_model(self, request, obj, form, change):
        if hasattr(obj, "source"):
            obj.source = CalendarSource.ADMIN
        super().save_model(request, obj, form, change)
        calendar_tables_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        calendar_tables_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        calendar_tables_changed()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        calendar_tables_changed()


@admin.register(CalendarDay)
class CalendarDayAdmin(CalendarAdminMixin, admin.ModelAdmin):
    list_display = ["date", "weekday", "kind", "name", "source"]
    list_filter = ["kind", "source"]
    search_fields = ["name", "date"]
    date_hierarchy = "date"
    readonly_fields = ["source", "created_at", "updated_at"]

    @admin.display(description=_("weekday"))
    def weekday(self, obj: CalendarDay) -> str:
        return date_format(obj.date, "D")


@admin.register(CalendarYear)
class CalendarYearAdmin(FixedOnceSavedMixin, CalendarAdminMixin, admin.ModelAdmin):
    list_display = ["year", "complete", "source", "holiday_count", "updated_at"]
    list_filter = ["complete", "source"]
    readonly_fields = ["source", "created_at", "updated_at"]
    fixed_once_saved = ("year",)  # its days are the dates of that year

    @admin.display(description=_("exceptions entered"))
    def holiday_count(self, obj: CalendarYear) -> int:
        return CalendarDay.objects.filter(date__year=obj.year).count()


class WorkingWindowFormSet(BaseInlineFormSet):
    """Checks the windows against each other before any is saved (the model check sees stored rows only)."""

    def clean(self):
        super().clean()
        windows = sorted(
            (form.cleaned_data["start"], form.cleaned_data["end"])
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("start")
            and form.cleaned_data.get("end")
        )
        for (_start, end), (next_start, _end) in zip(windows, windows[1:], strict=False):
            if next_start < end:
                raise ValidationError(_("Working windows of a schedule must not overlap."))


class WorkingWindowInline(admin.TabularInline):
    model = WorkingWindow
    formset = WorkingWindowFormSet
    extra = 0
    fields = ["start", "end"]


@admin.register(WorkSchedule)
class WorkScheduleAdmin(CalendarAdminMixin, admin.ModelAdmin):
    list_display = ["name", "is_default", "window_list"]
    inlines = [WorkingWindowInline]

    @admin.display(description=_("working windows"))
    def window_list(self, obj: WorkSchedule) -> str:
        return ", ".join(str(window) for window in obj.windows.all())


@admin.register(AdminNotice)
class AdminNoticeAdmin(admin.ModelAdmin):
    list_display = ["key", "level", "text_display", "count", "last_seen_at", "resolved_at"]
    list_filter = ["level", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["key", "message"]
    readonly_fields = [
        "key",
        "level",
        "text_display",
        "message",
        "params",
        "created_at",
        "last_seen_at",
        "count",
    ]
    actions = ["mark_resolved"]

    @admin.display(description=_("message"))
    def text_display(self, obj: AdminNotice) -> str:
        return obj.text  # in the reader's language when the notice has a renderer

    def has_add_permission(self, request) -> bool:
        # Notices come from the system (core.services.admin_notice_raise), not from people.
        return False

    @admin.action(description=_("Mark selected notices resolved"))
    def mark_resolved(self, request, queryset):
        count = queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d notice resolved.", "%(count)d notices resolved.", count) % {"count": count},
        )
