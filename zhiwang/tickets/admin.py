from django.contrib import admin

from zhiwang.core.admin_mixins import FixedOnceSavedMixin, ServiceWrittenMixin
from zhiwang.tickets.models import (
    Attachment,
    Category,
    CategoryCorrection,
    ClockAlert,
    KindDeadline,
    Notification,
    OutboundMessage,
    QueuedSubmission,
    RoutingRule,
    Ticket,
    TicketEvent,
    TicketImport,
    TicketRequest,
    TrainingRun,
)


@admin.register(Category)
class CategoryAdmin(FixedOnceSavedMixin, admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "parent",
        "deadline_amount",
        "deadline_unit",
        "urgent_deadline_amount",
        "urgent_deadline_unit",
        "requires_verification",
        "is_active",
    )
    list_filter = ("is_active", "requires_verification", "deadline_unit")
    search_fields = ("code", "name", "keywords")
    raw_id_fields = ("parent",)
    # tickets, the classifier's labels, routing history and exported files name a category by code
    fixed_once_saved = ("code",)


@admin.register(KindDeadline)
class KindDeadlineAdmin(admin.ModelAdmin):
    list_display = ("kind", "urgency", "amount", "unit")


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "category",
        "division",
        "unit",
        "tier",
        "auto_dispatch",
        "priority",
        "is_active",
    )
    list_filter = ("auto_dispatch", "is_active", "tier")
    raw_id_fields = ("category", "division", "unit")


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "actor", "action", "from_state", "to_state", "unit", "note", "payload")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-mostly: state changes go through the workflow (pages and API), never through this form."""

    list_display = ("number", "title", "kind", "category", "status", "handling_unit", "due_at", "received_at")
    list_filter = ("status", "kind", "channel", "urgency")
    # The number is unique and indexed; a title search scans, so it is the second choice.
    search_fields = ("=number", "title")
    raw_id_fields = (
        "category",
        "address",
        "grid",
        "community",
        "subdistrict",
        "district",
        "division",
        "handling_unit",
        "dispatch_center",
        "suggested_unit",
        "merged_into",
        "reporter",
    )
    readonly_fields = [f.name for f in Ticket._meta.fields]
    inlines = [TicketEventInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(TicketRequest)
class TicketRequestAdmin(ServiceWrittenMixin, admin.ModelAdmin):
    """Requests are made and decided in the workflow (with their timeline rows); shown only."""

    list_display = ("ticket", "kind", "status", "requested_by", "requested_at", "decided_by")
    list_filter = ("kind", "status")
    raw_id_fields = ("ticket", "requested_by", "decided_by")


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ("name", "ticket", "content_type", "size", "uploaded_at")
    raw_id_fields = ("ticket", "uploaded_by")


@admin.register(ClockAlert)
class ClockAlertAdmin(admin.ModelAdmin):
    list_display = ("ticket", "kind", "deadline", "created_at")
    list_filter = ("kind",)
    raw_id_fields = ("ticket",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("message", "recipient", "unit", "kind", "created_at", "read_at")
    list_filter = ("kind",)
    raw_id_fields = ("recipient", "unit", "ticket")


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("channel", "to", "adapter", "status", "created_at")
    list_filter = ("channel", "status", "adapter")
    raw_id_fields = ("ticket",)


@admin.register(CategoryCorrection)
class CategoryCorrectionAdmin(admin.ModelAdmin):
    """Training examples are appended by the services; the admin only reads them."""

    list_display = (
        "at",
        "ticket",
        "source",
        "suggested_label",
        "suggested_confidence",
        "final_category",
        "actor",
    )
    list_filter = ("source", "model")
    raw_id_fields = ("ticket", "from_category", "final_category", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "status", "progress", "examples", "held_back", "model", "requested_by")
    readonly_fields = [f.name for f in TrainingRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(TicketImport)
class TicketImportAdmin(admin.ModelAdmin):
    """Read-only: runs are made on the import page (``web.tickets.views.imports``)."""

    list_display = (
        "created_at",
        "file_name",
        "channel",
        "validate_only",
        "status",
        "created",
        "refused",
        "created_by",
    )
    list_filter = ("status", "validate_only", "channel")
    readonly_fields = [f.name for f in TicketImport._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QueuedSubmission)
class QueuedSubmissionAdmin(admin.ModelAdmin):
    """Read-only: the queue of ``Prefer: respond-async`` submissions (how far behind the workers are).

    The submitted fields (names, phones) are not shown: the ticket holds them once written.
    """

    list_display = ("accepted_at", "status", "attempts", "submitted_by", "ticket", "finished_at")
    list_filter = ("status",)
    exclude = ("payload",)
    readonly_fields = [f.name for f in QueuedSubmission._meta.fields if f.name != "payload"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
