"""People (实有人口) and where they live (``Residence``, one row per period at a room)."""

from __future__ import annotations

from datetime import date

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from zhiwang.core.masking import mask_id_number, mask_name, mask_phone
from zhiwang.geo.models import StandardAddress
from zhiwang.registry.models.base import STAY_ORDER, Placed, Provenance, RegistryQuerySet


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class HouseholdType(models.TextChoices):
    REGISTERED = "registered", _("Registered resident")  # 户籍人口
    MIGRANT = "migrant", _("Migrant resident")  # 流动人口


class Person(Provenance, Placed):
    """A person living or registered in the city (实有人口).

    ``id_number`` is validated (GB 11643) and never filtered on: lookups go through
    ``id_number_hash`` (HMAC-SHA256, ``registry.hashing``). Gender and birth date are
    derived from the ID number when the record is written.
    """

    id_number = models.CharField(_("ID number"), max_length=18)
    id_number_hash = models.CharField(_("ID number hash"), max_length=64, unique=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=64, db_index=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices)
    birth_date = models.DateField(_("birth date"))
    household_type = models.CharField(
        _("household type"), max_length=16, choices=HouseholdType.choices, default=HouseholdType.REGISTERED
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    phone_hash = models.CharField(_("phone hash"), max_length=64, blank=True, db_index=True)
    ethnicity = models.CharField(_("ethnicity"), max_length=16, blank=True)
    household_address = models.CharField(_("household registration address"), max_length=255, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["name", "pk"]
        permissions = [("reveal_personal_data", _("Can see unmasked ID numbers and phones (logged)"))]
        indexes = [
            # residents of a community (key-group lists, scoped name search); grid has its FK index.
            # On PostgreSQL ``name`` uses the "C" collation (migration 0004), so these indexes
            # also serve name-prefix search (LIKE 'x%') in name order.
            models.Index(fields=["community", "name"], name="registry_person_comm_name"),
            # the same for a grid worker's grids: at Shenzhen scale (18 M people) walking the
            # name index and filtering by grid read ~8,000 rows to find 11 (0.5 s)
            models.Index(fields=["grid", "name"], name="registry_person_grid_name"),
        ]

    def __str__(self) -> str:
        return self.masked_name

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    @property
    def birth_month(self) -> str:
        """The birth date as masked views show it: year and month ("1990-01"); the day never shows."""
        return f"{self.birth_date:%Y-%m}" if self.birth_date else ""

    def age_on(self, day: date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())


class ResidenceKind(models.TextChoices):
    HOUSEHOLD = "household", _("Household registration")  # 户籍地
    LIVING = "living", _("Living here")  # 居住地
    TENANT = "tenant", _("Tenant")  # 租住


class Residence(Provenance, Placed):
    """A person living at (or registered to) a room from ``since`` until ``until`` (open = current)."""

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="residences"
    )
    address = models.ForeignKey(
        StandardAddress,
        verbose_name=_("standard address"),
        on_delete=models.PROTECT,
        related_name="residences",
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=ResidenceKind.choices, default=ResidenceKind.LIVING
    )
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("residence")
        verbose_name_plural = _("residences")
        ordering = STAY_ORDER
        indexes = [
            # who lives in this room now (building and room pages)
            models.Index(fields=["address", "until"], name="registry_res_addr_until"),
            models.Index(fields=["person", "until"], name="registry_res_person_until"),
        ]

    def __str__(self) -> str:
        return f"{self.person} @ {self.address}"

    @property
    def is_current(self) -> bool:
        return self.until is None or self.until >= timezone.localdate()
