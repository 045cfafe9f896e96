"""Eligibility rules: who at which place may claim which service (edited by administrators)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.geo.models import Division
from zhiwang.registry.models.people import Gender, HouseholdType
from zhiwang.registry.models.tags import KeyGroup


class EligibilityRule(models.Model):
    """An administrator-edited rule: who at which place may claim which service (e.g. age >= 70)."""

    service = models.CharField(_("service"), max_length=128, help_text=_("e.g. 高龄津贴 (elderly allowance)"))
    description = models.TextField(_("description"), blank=True)
    min_age = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True)
    household_type = models.CharField(
        _("household type"), max_length=16, choices=HouseholdType.choices, blank=True
    )
    key_group = models.CharField(_("key group"), max_length=32, choices=KeyGroup.choices, blank=True)
    division = models.ForeignKey(
        Division,
        verbose_name=_("division"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("Only residents living inside this division (empty: the whole city)."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("eligibility rule")
        verbose_name_plural = _("eligibility rules")
        ordering = ["service", "pk"]

    def __str__(self) -> str:
        return self.service
