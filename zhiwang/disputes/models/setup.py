"""Configurable tables and who works cases: function areas, categories, service centres, mediation organisations, mediators."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from zhiwang.core.scoping import ScopedQuerySet
from zhiwang.disputes.models.vocabularies import MediationType, OrganisationKind

# --- configurable tables ---------------------------------------------------------


class FunctionArea(models.Model):
    """A desk of the one-stop centre (the "8" of 1+8+N); administrators edit the list.

    ``mediation_type`` set: a visit routed here may be turned into a dispute case of
    that type. Seeded by ``disputes.defaults.defaults_seed``.
    """

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    mediation_type = models.CharField(
        _("mediation type"), max_length=16, choices=MediationType.choices, blank=True
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("function area")
        verbose_name_plural = _("function areas")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class DisputeCategory(models.Model):
    """纠纷类别, the Ministry of Justice statistics list (DOMAIN.md); administrators edit it."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dispute category")
        verbose_name_plural = _("dispute categories")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


# --- places and people that work cases -------------------------------------------


class ServiceCentreQuerySet(ScopedQuerySet):
    scope_division_field = "division"


class ServiceCentre(models.Model):
    """综治中心 / 综合服务中心 of a division: one window, the function areas, the rooms.

    Its staff are the members of ``org_unit``: a window operator sees their centre.
    """

    org_unit = models.OneToOneField(
        "accounts.OrgUnit",
        verbose_name=_("org unit"),
        on_delete=models.PROTECT,
        related_name="service_centre",
    )
    name = models.CharField(_("name"), max_length=128)
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("division"), on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = ServiceCentreQuerySet.as_manager()

    class Meta:
        verbose_name = _("service centre")
        verbose_name_plural = _("service centres")
        ordering = ["division__code", "name"]

    def __str__(self) -> str:
        return self.name


class OrganisationQuerySet(ScopedQuerySet):
    scope_division_field = "division"


class MediationOrganisation(models.Model):
    """A people's mediation committee or a sector body, serving a division (and everything below it).

    Its mediators are ``Mediator`` rows; its members sign in as users of ``org_unit``.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=24, choices=OrganisationKind.choices)
    mediation_type = models.CharField(
        _("mediation type"), max_length=16, choices=MediationType.choices, default=MediationType.PEOPLES
    )
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("division served"), on_delete=models.PROTECT, related_name="+"
    )
    org_unit = models.OneToOneField(
        "accounts.OrgUnit",
        verbose_name=_("org unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mediation_organisation",
    )
    categories = models.ManyToManyField(
        DisputeCategory,
        verbose_name=pgettext_lazy("dispute", "categories"),
        blank=True,
        related_name="+",
        help_text=_("Categories it takes; empty = all (sector bodies name theirs)"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        verbose_name = _("mediation organisation")
        verbose_name_plural = _("mediation organisations")
        ordering = ["division__code", "code"]

    def __str__(self) -> str:
        return self.name


class Mediator(models.Model):
    """A user with the mediator role working for one organisation; ``capacity`` caps open cases."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="mediator"
    )
    organisation = models.ForeignKey(
        MediationOrganisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="mediators",
    )
    capacity = models.PositiveSmallIntegerField(_("capacity (open cases)"), default=20)
    specialities = models.CharField(_("specialities"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("mediator")
        verbose_name_plural = _("mediators")
        ordering = ["organisation__code", "user__username"]

    def __str__(self) -> str:
        return str(self.user)
