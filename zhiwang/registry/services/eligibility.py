"""Eligibility rules, edited by administrators."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from zhiwang.core.errors import FieldError, ServiceError
from zhiwang.registry.models import EligibilityRule
from zhiwang.registry.services.access import _denied, role_of


@transaction.atomic
def eligibility_rule_save(*, actor, rule: EligibilityRule | None = None, **fields) -> EligibilityRule:
    """Create or change an eligibility rule (administrators)."""
    if role_of(actor) != "administrator":
        raise _denied(_("Only administrators edit eligibility rules."))
    rule = rule or EligibilityRule()
    for name, value in fields.items():
        setattr(rule, name, value)
    errors = []
    if rule.min_age is not None and rule.max_age is not None and rule.min_age > rule.max_age:
        errors.append(FieldError("max_age", "rule.age_range", _("The maximum age is below the minimum age.")))
    if not (rule.service or "").strip():
        errors.append(FieldError("service", "required", _("Name the service.")))
    if errors:
        raise ServiceError(errors[0].code, errors[0].message, field=errors[0].field, fields=errors)
    rule.save()
    return rule
