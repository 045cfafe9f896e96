"""Admin: the model registry, with promote / retire actions that go through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from zhiwang.classifier import services
from zhiwang.classifier.models import ClassifierModel
from zhiwang.core.errors import ServiceError


@admin.register(ClassifierModel)
class ClassifierModelAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "version",
        "status",
        "macro_f1_display",
        "coverage_display",
        "threshold",
        "training_size",
        "created_at",
        "promoted_at",
    )
    list_filter = ("name", "status")
    ordering = ("name", "-version")
    readonly_fields = (
        "name",
        "version",
        "path",
        "labels",
        "metrics",
        "measurement_note",
        "training_size",
        "status",
        "created_at",
        "promoted_at",
        "retired_at",
    )
    fields = (
        "name",
        "version",
        "status",
        "threshold",
        "note",
        "path",
        "labels",
        "training_size",
        "measurement_note",
        "metrics",
        "created_at",
        "promoted_at",
        "retired_at",
    )
    actions = ("promote_selected", "retire_selected")

    def has_add_permission(self, request):
        return False  # models are registered by training (command or service), not typed in

    @admin.display(description=_("macro-F1"))
    def macro_f1_display(self, obj: ClassifierModel):
        return obj.macro_f1

    @admin.display(description=_("coverage at target precision"))
    def coverage_display(self, obj: ClassifierModel):
        return obj.coverage_at_target

    @admin.display(description=_("what the metrics do not cover"))
    def measurement_note(self, obj: ClassifierModel):
        return obj.measurement_note or "—"

    def save_model(self, request, obj, form, change):
        if "threshold" in form.changed_data:
            services.model_set_threshold(model=obj, threshold=obj.threshold)
        if "note" in form.changed_data:
            obj.save(update_fields=["note"])

    @admin.action(description=_("Promote the selected model (the active one is retired)"))
    def promote_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one model to promote."), messages.WARNING)
            return
        try:
            model = services.model_promote(model=queryset.get())
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, gettext("%(model)s is now active.") % {"model": model}, messages.SUCCESS)

    @admin.action(description=_("Retire the selected models"))
    def retire_selected(self, request, queryset):
        for model in queryset:
            services.model_retire(model=model)
        self.message_user(request, gettext("Retired %(count)d models.") % {"count": queryset.count()})
