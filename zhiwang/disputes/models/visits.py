"""Visitors and visits at the window (来访)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.masking import mask_id_number, mask_name, mask_phone
from zhiwang.core.scoping import ScopedQuerySet
from zhiwang.core.workflow import TimelineEntry
from zhiwang.disputes.models.setup import FunctionArea, ServiceCentre
from zhiwang.disputes.models.vocabularies import VisitStatus

# --- visitors and visits ---------------------------------------------------------


class Visitor(models.Model):
    """A resident registered once at a window; found again by ``id_hash`` (keyed hash of the ID number).

    The raw number is kept for the documents that must carry it (agreements) and is only
    shown masked unless a permitted user reveals it (logged). ``person`` links the
    registry's record: set when the operator picks the visitor from the registry, or found
    by the registry's keyed hash of the ID number (``registry.hashing``).
    """

    name = models.CharField(_("name"), max_length=64)
    id_number = models.CharField(_("ID number"), max_length=18, blank=True)
    id_hash = models.CharField(_("ID number hash"), max_length=64, blank=True, db_index=True)
    # Not written nor read: a phone belongs to the centre it was given to (``Visit.visitor_phone``).
    # Blanked by migration 0012; the empty column stays until a later release drops it.
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    person = models.ForeignKey(
        "registry.Person",
        verbose_name=_("registry person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        constraints = [
            models.UniqueConstraint(
                fields=["id_hash"], condition=~models.Q(id_hash=""), name="disputes_visitor_once"
            )
        ]

    def __str__(self) -> str:
        return mask_name(self.name)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number) if self.id_number else ""


class VisitQuerySet(ScopedQuerySet):
    scope_division_field = "centre__division"


class Visit(models.Model):
    """One matter brought to the window, waiting in (or served by) one function area's queue."""

    number = models.CharField(_("visit number"), max_length=20, unique=True)
    centre = models.ForeignKey(
        ServiceCentre, verbose_name=_("service centre"), on_delete=models.PROTECT, related_name="visits"
    )
    visitor = models.ForeignKey(
        Visitor, verbose_name=_("visitor"), on_delete=models.PROTECT, related_name="visits"
    )
    # The visitor's name and phone as given at this visit (a visitor who gives no phone: the one
    # they gave this centre last). ``Visitor`` keeps who the person is (a registry pick's name),
    # no contact details: a later visit never changes what an earlier one recorded, and one
    # centre never sees the phone another centre was given.
    visitor_name = models.CharField(_("visitor's name"), max_length=64, blank=True, default="")
    visitor_phone = models.CharField(_("visitor's phone"), max_length=20, blank=True, default="")
    area = models.ForeignKey(
        FunctionArea, verbose_name=_("function area"), on_delete=models.PROTECT, related_name="visits"
    )
    matter = models.TextField(_("matter"))
    status = models.CharField(
        _("status"), max_length=16, choices=VisitStatus.choices, default=VisitStatus.WAITING, db_index=True
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=160, unique=True)
    # SHA-256 of what the registration asked for (see ``DisputeCase.idempotency_fingerprint``).
    idempotency_fingerprint = models.CharField(
        _("idempotency fingerprint"), max_length=64, blank=True, default=""
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("registered by"), on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    served_at = models.DateTimeField(_("served at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    outcome_note = models.TextField(_("outcome"), blank=True)

    objects = VisitQuerySet.as_manager()

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["registered_at", "pk"]
        indexes = [models.Index(fields=["centre", "area", "status"], name="disputes_visit_queue")]

    def __str__(self) -> str:
        return self.number

    @property
    def masked_visitor_name(self) -> str:
        return mask_name(self.visitor_name)

    @property
    def masked_visitor_phone(self) -> str:
        return mask_phone(self.visitor_phone) if self.visitor_phone else ""


class VisitEvent(TimelineEntry):
    """Timeline of a visit: registered, called, routed, done, case opened."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="events")

    class Meta:
        verbose_name = _("visit event")
        verbose_name_plural = _("visit events")
        ordering = ["at", "pk"]

    @property
    def note_text(self) -> str:
        """The note for the reader: the system's words in the reader's language (``disputes.texts``)."""
        from zhiwang.disputes.texts import event_note

        return event_note(self)
