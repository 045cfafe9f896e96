from django import forms
from django.contrib import admin
from django.utils.functional import lazy
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from zhiwang.analytics.index import (
    INDEX_INDICATORS,
    INDICATOR_LABELS,
    MAX_WEIGHT,
    indicator_label,
    validate_weights,
)
from zhiwang.analytics.models import Alert, AlertSubscription, GovernanceIndex, IndexFormula, Report
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import DivisionLevel


def weight_field_name(code: str) -> str:
    """The admin form's field of one indicator's weight."""
    return f"weight_{code}"


def _weight_error() -> str:
    return gettext("A weight is a number from 0 to %(max)s; leave it empty to leave the indicator out.") % {
        "max": MAX_WEIGHT
    }


def _weight_help(code: str) -> str:
    return gettext("Empty or 0: not counted. Code: %(code)s") % {"code": code}


def _weight_fields() -> dict[str, forms.FloatField]:
    """One number field per indicator a formula may weigh, labelled with its name in the reader's
    language (``index.INDICATOR_LABELS``); the code is only a hint under it."""
    message = lazy(_weight_error, str)()
    return {
        weight_field_name(code): forms.FloatField(
            label=INDICATOR_LABELS.get(code, code),
            required=False,
            # a typed 1e309 is infinity and "nan" is a float to Python: Django's FloatField refuses
            # both as "invalid"; the bounds are index.validate_weights' own
            min_value=0,
            max_value=MAX_WEIGHT,
            error_messages={"invalid": message, "min_value": message, "max_value": message},
            widget=forms.NumberInput(
                attrs={"min": 0, "max": MAX_WEIGHT, "step": "any", "style": "width:8em"}
            ),
            help_text=lazy(_weight_help, str)(code),
        )
        for code in INDEX_INDICATORS
    }


#: The weight fields, declared on a form class so that the admin's fieldsets may name them.
_WeightFields = type("_WeightFields", (forms.Form,), _weight_fields())


class IndexFormulaForm(_WeightFields, forms.ModelForm):
    """The formula with one number per indicator instead of the raw ``weights`` JSON.

    The fields read the stored ``weights`` ({indicator code: weight}) and write them back: an
    empty field leaves the indicator out of the JSON, a number (0 included) is kept as it is, so
    the model and the JSON stay as they were. ``index.validate_weights`` still decides (not all 0,
    at least one); a bad number is refused on its own field.
    """

    # any text reaches ``validate_min_volume``, so every wrong value gets the same house message
    min_volume = forms.CharField(
        label=_("minimum tickets to rank"),
        initial=5,
        widget=forms.NumberInput(attrs={"min": 0, "step": 1}),
        help_text=IndexFormula._meta.get_field("min_volume").help_text,
    )

    class Meta:
        model = IndexFormula
        fields = ["name", "red_count", "black_count", "black_below", "min_volume", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cleaned_weights: dict[str, float] | None = None
        weights = self.instance.weights if isinstance(self.instance.weights, dict) else {}
        for code in INDEX_INDICATORS:
            name = weight_field_name(code)
            if name in self.fields and code in weights:
                self.initial.setdefault(name, weights[code])

    def clean(self):
        cleaned = super().clean()
        weights = {}
        for code in INDEX_INDICATORS:
            value = cleaned.get(weight_field_name(code))
            if weight_field_name(code) in self.errors:
                return cleaned  # the field's own error says what is wrong
            if value is not None:
                weights[code] = value
        try:
            self.cleaned_weights = validate_weights(weights)
        except ServiceError as error:  # none given, or all 0: about every field at once
            raise forms.ValidationError(error.message, code=error.code) from None
        return cleaned

    def save(self, commit=True):
        self.instance.weights = self.cleaned_weights
        return super().save(commit=commit)

    def clean_min_volume(self):
        from zhiwang.analytics.index import validate_min_volume

        try:
            return validate_min_volume(self.cleaned_data["min_volume"])
        except ServiceError as error:
            raise forms.ValidationError(error.message, code=error.code) from None


@admin.register(IndexFormula)
class IndexFormulaAdmin(admin.ModelAdmin):
    """The governance index formula (docs/analytics.md): a weight per indicator, list sizes,
    the minimum of tickets to rank."""

    form = IndexFormulaForm
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (
            _("Weights"),
            {
                "fields": tuple(weight_field_name(code) for code in INDEX_INDICATORS),
                "description": _(
                    "score = 100 × Σ weight × value ÷ Σ weight, over the indicators that have a value "
                    "that month. Weights are relative: multiplying all of them by one number changes no "
                    "score. The rework rate counts as 1 − rework rate."
                ),
            },
        ),
        (_("Ranking"), {"fields": ("red_count", "black_count", "black_below", "min_volume")}),
    )
    list_display = (
        "name",
        "shown_weights",
        "red_count",
        "black_count",
        "black_below",
        "min_volume",
        "is_active",
        "updated_at",
    )
    list_filter = ("is_active",)

    @admin.display(description=_("weights"))
    def shown_weights(self, formula: IndexFormula) -> str:
        weights = formula.weights if isinstance(formula.weights, dict) else {}
        # in the indicators' own order: PostgreSQL's jsonb does not keep the keys' order
        order = {code: n for n, code in enumerate(INDICATOR_LABELS)}
        return pgettext("list separator", ", ").join(
            f"{indicator_label(code)} {weight:g}"
            for code, weight in sorted(
                weights.items(), key=lambda item: (order.get(item[0], len(order)), item[0])
            )
            if isinstance(weight, int | float) and not isinstance(weight, bool) and weight
        )


class _IndexLevelFilter(admin.SimpleListFilter):
    """The index's levels by name (the plain field filter listed the stored codes)."""

    title = _("level")
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [
            (level, DivisionLevel(level).label)
            for level in (DivisionLevel.SUBDISTRICT, DivisionLevel.COMMUNITY)
        ]

    def queryset(self, request, queryset):
        return queryset.filter(level=self.value()) if self.value() else queryset


@admin.register(GovernanceIndex)
class GovernanceIndexAdmin(admin.ModelAdmin):
    list_display = ("month", "division", "shown_level", "score", "rank", "standing", "volume")
    list_filter = (_IndexLevelFilter, "standing", "month")
    readonly_fields = ("values",)

    @admin.display(description=_("level"), ordering="level")
    def shown_level(self, row: GovernanceIndex) -> str:
        # ``level`` stores a division level's code ("community"); the reader wants its name
        return DivisionLevel(row.level).label if row.level in DivisionLevel.values else row.level


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
