"""Model fields for Chinese identifiers that store the canonical form.

``to_python`` normalizes (full-width to half-width, no spaces, upper case), and Django
calls it from ``full_clean()``, model forms and ``get_prep_value``, so neither a lowercase
``x`` nor a full-width digit reaches the database or a lookup.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.validators import (
    credit_code_field_validator,
    id_number_field_validator,
    normalize_identifier,
)


class _IdentifierField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 18)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_identifier(value) if value else value


class IdNumberField(_IdentifierField):
    """A 公民身份号码 (GB 11643), validated and stored upper-case."""

    default_validators = [id_number_field_validator]
    description = _("ID card number (GB 11643)")


class CreditCodeField(_IdentifierField):
    """A 统一社会信用代码 (GB 32100), validated and stored upper-case."""

    default_validators = [credit_code_field_validator]
    description = _("Unified social credit code (GB 32100)")
