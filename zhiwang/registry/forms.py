"""Forms of the registry pages: shape only; the services check the rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.registry.models import EntityType, HouseholdType, MappingTemplate, RecordKind
from zhiwang.registry.selectors import source_departments

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def apply_error(form: forms.Form, error: ServiceError) -> None:
    """Put a service error on its field (or on the form when the field is not on it)."""
    fields = error.fields or []
    if not fields:
        form.add_error(None, error.message)
        return
    for item in fields:
        form.add_error(item.field if item.field in form.fields else None, item.message)


#: A label that already ends in punctuation gets no suffix ("…电话？" not "…电话？:").
ENDS_A_LABEL = ("?", "？", ":", "：")


class RegistryForm(forms.Form):
    """Labels end with the reader's colon: the same ``form label suffix`` (msgctxt) as the web
    app's forms ("姓名：", not Django's ASCII "姓名:"; the registry cannot import ``web``). A label
    that is a question, or already ends in a colon, gets none."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", pgettext("form label suffix", ":"))
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if field.label and str(field.label).rstrip().endswith(ENDS_A_LABEL):
                field.label_suffix = ""


class CorrectionForm(RegistryForm):
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=64)
    household_type = forms.ChoiceField(label=_("Household type"), choices=HouseholdType.choices)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    ethnicity = forms.CharField(label=_("Ethnicity"), max_length=16, required=False)
    household_address = forms.CharField(
        label=_("Household registration address"), max_length=255, required=False
    )
    note = forms.CharField(label=_("What was corrected, and why"), max_length=500)
    # Not required here: the service answers a missing one with its own code and message
    # (registry.version_required, shown on the page with the hidden field's errors).
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, person, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "name": person.name,
                "household_type": person.household_type,
                # The phone field starts empty: leaving it empty keeps the number (never shown unmasked).
                "ethnicity": person.ethnicity,
                "household_address": person.household_address,
                "expected_version": person.version,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["phone"].help_text = _("Leave empty to keep %(phone)s.") % {
            "phone": person.masked_phone or "—"
        }

    def clean(self):
        data = super().clean()
        if not data.get("phone"):
            data.pop("phone", None)
        return data


class ResidenceCorrectionForm(RegistryForm):
    """The current residence's address (and start) was typed wrong (``services.person_residence_correct``).

    Its own ids (``residence-…``): the person page holds the record's correction form too."""

    address = forms.CharField(label=_("Right address"), max_length=255, required=False)
    since = forms.DateField(label=_("Living here since"), required=False)
    note = forms.CharField(label=_("What was wrong, and why you correct it"), max_length=500)
    # Not required here: the service answers a missing one with its own code and message
    # (registry.version_required, shown on the page with the hidden field's errors).
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, person, residence, **kwargs):
        kwargs.setdefault("initial", {"since": residence.since, "expected_version": person.version})
        kwargs.setdefault("auto_id", "residence-%s")
        super().__init__(*args, **kwargs)
        self.fields["address"].help_text = _(
            "A standard address code or the address text (at least the building). Leave empty to keep "
            "%(address)s."
        ) % {"address": residence.address.full_name}
        self.fields["since"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["since"].help_text = _("Change it only if the date was wrong too.")


class EntityCorrectionForm(RegistryForm):
    name = forms.CharField(label=_("Name"), max_length=128)
    entity_type = forms.ChoiceField(label=_("Entity type"), choices=EntityType.choices)
    industry = forms.CharField(label=_("Industry"), max_length=64, required=False)
    # Empty keeps the date on record (``clean_entity``: an empty founding date says nothing).
    founded_on = forms.DateField(label=_("Founding date"), required=False)
    note = forms.CharField(label=_("What was corrected, and why"), max_length=500)
    # Not required here: the service answers a missing one with its own code and message
    # (registry.version_required, shown on the page with the hidden field's errors).
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, entity, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "name": entity.name,
                "entity_type": entity.entity_type,
                "industry": entity.industry,
                "founded_on": entity.founded_on,
                "expected_version": entity.version,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["founded_on"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class RevealForm(RegistryForm):
    reason = forms.CharField(label=_("Why do you need the full ID number and phone?"), max_length=255)


class TemplateSelect(forms.Select):
    """The mapping templates, each option saying its record kind (``data-kind``), so the page
    can offer only the chosen kind's templates (``registry/import_form.js``)."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        template = getattr(value, "instance", None)
        if template is not None:
            option["attrs"]["data-kind"] = template.kind
        return option


class ImportForm(RegistryForm):
    kind = forms.ChoiceField(label=_("Records in the file"), choices=RecordKind.choices)
    source = forms.ModelChoiceField(label=_("Source department"), queryset=OrgUnit.objects.none())
    template = forms.ModelChoiceField(
        label=_("Mapping template"), queryset=MappingTemplate.objects.all(), widget=TemplateSelect
    )
    file = forms.FileField(label=_("File (CSV in UTF-8 or GBK, or Excel .xlsx)"))
    validate_only = forms.BooleanField(
        label=_("Validate only (write nothing; publish after reading the report)"), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only units that supply registry data, in division order (models.SOURCE_UNIT_KINDS).
        self.fields["source"].queryset = source_departments()
        if not self.is_bound:
            # The first kind is chosen; so is its first template (the page keeps them in step).
            kind = self.initial.get("kind") or RecordKind.choices[0][0]
            self.initial.setdefault("kind", kind)
            first = MappingTemplate.objects.filter(kind=kind).order_by("name").first()
            if first is not None:
                self.initial.setdefault("template", first.pk)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than 200 MB; import it with the command instead.")
            )
        return upload

    def clean(self):
        data = super().clean()
        template, kind = data.get("template"), data.get("kind")
        if template is not None and kind and template.kind != kind:
            self.add_error("template", _("This template is for another kind of record."))
        return data
