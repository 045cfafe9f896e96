from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from zhiwang.analytics.models import Alert, AlertSubscription, GovernanceIndex, IndexFormula, Report


class IndexFormulaForm(forms.ModelForm):
    # any text reaches ``validate_min_volume``, so every wrong value gets the same house message
    min_volume = forms.CharField(
        label=_("minimum tickets to rank"),
        initial=5,
        widget=forms.NumberInput(attrs={"min": 0, "step": 1}),
        help_text=IndexFormula._meta.get_field("min_volume").help_text,
    )

    class Meta:
        model = IndexFormula
        fields = ["name", "weights", "red_count", "black_count", "black_below", "min_volume", "is_active"]

    def clean_weights(self):
        from zhiwang.analytics.index import validate_weights
        from zhiwang.core.errors import ServiceError

        try:
            return validate_weights(self.cleaned_data["weights"])
        except ServiceError as error:
            raise forms.ValidationError(error.message, code=error.code) from None

    def clean_min_volume(self):
        from zhiwang.analytics.index import validate_min_volume
        from zhiwang.core.errors import ServiceError

        try:
            return validate_min_volume(self.cleaned_data["min_volume"])
        except ServiceError as error:
            raise forms.ValidationError(error.message, code=error.code) from None


@admin.register(IndexFormula)
class IndexFormulaAdmin(admin.ModelAdmin):
    """The governance index formula (docs/analytics.md): weights over indicator names, list sizes,
    the minimum of tickets to rank."""

    form = IndexFormulaForm
    list_display = (
        "name",
        "weights",
        "red_count",
        "black_count",
        "black_below",
        "min_volume",
        "is_active",
        "updated_at",
    )
    list_filter = ("is_active",)


@admin.register(GovernanceIndex)
class GovernanceIndexAdmin(admin.ModelAdmin):
    list_display = ("month", "division", "level", "score", "rank", "standing", "volume")
    list_filter = ("level", "standing", "month")
    readonly_fields = ("values",)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "status", "shown_explanation", "division")
    list_filter = ("kind", "status")
    # ``explanation`` is the stored sentence in the city's language (searchable); the list shows
    # it in the reader's language, from its parameters
    search_fields = ("explanation", "key")

    @admin.display(description=_("explanation"))
    def shown_explanation(self, alert: Alert) -> str:
        return alert.explanation_text


admin.site.register(AlertSubscription)
admin.site.register(Report)
