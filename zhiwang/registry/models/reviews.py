"""Registrations a data steward decides: an ID number registered where the caller cannot see it.

A grid worker who registers a person whose ID number is already on record outside their
jurisdiction (or on a record with no known place) must not learn that it is (the registry would
answer, for any number, whether it is registered anywhere in the city), must not take the record
over (its data would become theirs to read), and must not lose what they collected. So the
registration is answered like any new one and kept here, with what the caller gave, until a data
steward decides: the person moved (the record moves to the given address, empty fields filled) or
not (nothing changes). See ``services.reviews``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.masking import mask_phone
from zhiwang.geo.models import StandardAddress
from zhiwang.registry.models.people import Person


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a data steward")  # nothing changed on the record yet
    MOVED = "moved", _("Moved here")  # the steward confirmed it: the record moved to the address
    DECLINED = "declined", _("Declined")  # the steward found it wrong: the record is unchanged


class RegistrationReview(models.Model):
    """A registration of a known ID number that only a data steward may apply (登记待核)."""

    #: A workflow item, not history: it goes with its person (only the demo rebuild deletes people).
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="registration_reviews"
    )
    #: Where the caller says the person lives now (None: they gave no address).
    address = models.ForeignKey(
        StandardAddress,
        verbose_name=_("standard address"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    #: What the caller gave, validated (``validation.clean_person``), without the ID number: the
    #: fields of ``services.history.PERSON_FIELDS`` and ``since`` (ISO date).
    values = models.JSONField(_("values given"), default=dict, blank=True)
    #: ``outside``: the record lies outside the caller's jurisdiction; ``unplaced``: it has no place.
    why = models.CharField(_("why"), max_length=16)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    source = models.ForeignKey(
        OrgUnit,
        verbose_name=_("source department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("registration to check")
        verbose_name_plural = _("registrations to check")
        ordering = ["created_at", "pk"]
        indexes = [
            # the stewards' queue: pending ones, oldest first
            models.Index(fields=["status", "created_at"], name="registry_review_queue"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.person} ({self.status})"

    @property
    def masked_phone(self) -> str:
        phone = (self.values or {}).get("phone") or ""
        return mask_phone(phone) if phone else ""
