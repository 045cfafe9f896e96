"""Legal entities (实有法人) and where they operate (``Operation``, one row per period at an address)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.masking import mask_name, mask_phone
from zhiwang.geo.models import StandardAddress
from zhiwang.registry.models.base import STAY_ORDER, Placed, Provenance, RegistryQuerySet


class EntityType(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")  # 企业
    INDIVIDUAL_BUSINESS = "individual_business", _("Individual business")  # 个体工商户
    SOCIAL_ORGANIZATION = "social_organization", _("Social organization")  # 社会组织
    PUBLIC_INSTITUTION = "public_institution", _("Public institution")  # 事业单位
    GOVERNMENT = "government", _("Government body")  # 机关
    OTHER = "other", _("Other")


class LegalEntity(Provenance, Placed):
    """A legal entity (实有法人), keyed by its unified social credit code (GB 32100)."""

    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    name = models.CharField(_("name"), max_length=128, db_index=True)
    entity_type = models.CharField(
        _("entity type"), max_length=32, choices=EntityType.choices, default=EntityType.ENTERPRISE
    )
    legal_representative = models.CharField(_("legal representative"), max_length=64, blank=True)
    industry = models.CharField(_("industry"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # 成立日期: when the entity was founded, not when it came to an address (an operation's
    # ``since``): a file's founding date used to start the operation at every new address.
    founded_on = models.DateField(_("founding date"), null=True, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("legal entity")
        verbose_name_plural = _("legal entities")
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["community", "name"], name="registry_entity_comm_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    @property
    def masked_representative(self) -> str:
        return mask_name(self.legal_representative)


class Operation(Provenance, Placed):
    """A legal entity operating at a standard address from ``since`` until ``until`` (open = current)."""

    entity = models.ForeignKey(
        LegalEntity, verbose_name=_("legal entity"), on_delete=models.CASCADE, related_name="operations"
    )
    address = models.ForeignKey(
        StandardAddress,
        verbose_name=_("standard address"),
        on_delete=models.PROTECT,
        related_name="operations",
    )
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)

    objects = RegistryQuerySet.as_manager()

    class Meta:
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        ordering = STAY_ORDER
        indexes = [models.Index(fields=["address", "until"], name="registry_op_addr_until")]

    def __str__(self) -> str:
        return f"{self.entity} @ {self.address}"
