"""Requests on a ticket that need a decision (return, extension, suspension) and attachments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.tickets.models.ticket import Ticket


class RequestKind(models.TextChoices):
    """What a handler may ask the dispatcher for."""

    RETURN = "return", _("Return")  # 退单
    EXTENSION = "extension", _("Extension")  # 延期
    SUSPENSION = "suspension", _("Suspension")  # 挂起


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    # The ticket moved on before a decision (replied, reassigned, merged): nothing left to decide.
    WITHDRAWN = "withdrawn", _("Withdrawn")


class TicketRequest(models.Model):
    """A handler's request that a dispatcher must decide: return, extension or suspension."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="requests"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=RequestKind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    reason = models.TextField(_("reason"))
    legal_basis = models.CharField(_("legal basis"), max_length=255, blank=True)
    wrong_dispatch = models.BooleanField(_("wrongly dispatched"), default=False)
    extra_days = models.PositiveSmallIntegerField(_("extra working days"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("handler request")
        verbose_name_plural = _("handler requests")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"], condition=models.Q(status="pending"), name="tickets_one_pending_request"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket.number} {self.get_kind_display()} ({self.get_status_display()})"


class Attachment(models.Model):
    """A photo or document attached to a ticket (by the reporter or the handler)."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to="tickets/%Y/%m/")
    name = models.CharField(_("name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    size = models.PositiveIntegerField(_("size"), default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    is_reply = models.BooleanField(_("part of the reply"), default=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name
