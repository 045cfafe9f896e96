"""Housing (实有房屋): one row per standard address, with its use, owner and occupancy."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.masking import mask_name
from zhiwang.geo.models import StandardAddress
from zhiwang.registry.models.base import Placed, Provenance, RegistryQuerySet


class HousingUse(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential")
    COMMERCIAL = "commercial", _("Commercial")
    OFFICE = "office", _("Office")
    INDUSTRIAL = "industrial", _("Industrial")
    MIXED = "mixed", _("Mixed")
    OTHER = "other", _("Other")


class Occupancy(models.TextChoices):
    OWNER_OCCUPIED = "owner_occupied", _("Owner-occupied")  # 自住
    RENTED = "rented", _("Rented")  # 出租
    VACANT = "vacant", _("Vacant")  # 空置
    BUSINESS = "business", _("Business premises")  # 经营
    UNKNOWN = "unknown", _("Unknown")


class Housing(Provenance, Placed):
    """Housing at room level (实有房屋): one row per standard address (room, or a whole building)."""

    address = models.OneToOneField(
        StandardAddress, verbose_name=_("standard address"), on_delete=models.PROTECT, related_name="housing"
    )
    use = models.CharField(
        _("use"), max_length=16, choices=HousingUse.choices, default=HousingUse.RESIDENTIAL
    )
    owner_name = models.CharField(_("owner"), max_length=128, blank=True)
    owner_phone = models.CharField(_("owner phone"), max_length=20, blank=True)
    is_rental = models.BooleanField(_("rental housing"), default=False)
    occupancy = models.CharField(
        _("occupancy"), max_length=16, choices=Occupancy.choices, default=Occupancy.UNKNOWN
    )
    area_m2 = models.DecimalField(_("area (m²)"), max_digits=9, decimal_places=2, null=True, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("housing")
        verbose_name_plural = _("housing")
        ordering = ["address__code"]

    def __str__(self) -> str:
        return self.address.full_name

    @property
    def masked_owner(self) -> str:
        return mask_name(self.owner_name)
