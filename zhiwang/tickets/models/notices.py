"""Clock alerts, the in-app inbox and the outbound messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.tickets.models.ticket import Ticket


class ClockAlert(models.Model):
    """A deadline threshold already acted on, so the sweep acts exactly once per threshold."""

    class Kind(models.TextChoices):
        ACCEPT_WARNING = "accept_warning", _("Accept deadline missed")
        WARNING = "warning", _("Deadline near (80 %)")
        OVERDUE = "overdue", _("Overdue")
        URGE = "urge", _("Urged")
        SUPERVISE = "supervise", _("Supervised")

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="clock_alerts"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    deadline = models.DateTimeField(_("deadline concerned"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("clock alert")
        verbose_name_plural = _("clock alerts")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "kind", "deadline"], name="tickets_clock_alert_once")
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.deadline:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """An in-app message for a staff user or a whole unit (inbox); outbound copies go through adapters."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    unit = models.ForeignKey(
        "accounts.OrgUnit",
        verbose_name=_("unit"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=32)
    message = models.CharField(_("message"), max_length=500)
    # A page of the platform the message is about when it is not a ticket's (an early-warning
    # alert): a path written by the platform itself, never by a user.
    link = models.CharField(_("link"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        indexes = [
            # the inbox, newest first, of a unit and of a user (a unit gets thousands a year)
            models.Index(fields=["unit", "-created_at"], name="tickets_notif_unit_recent"),
            models.Index(fields=["recipient", "-created_at"], name="tickets_notif_user_recent"),
            # the unread count on every staff page: only the unread rows are indexed
            models.Index(
                fields=["unit"], condition=models.Q(read_at__isnull=True), name="tickets_notif_unit_unread"
            ),
            models.Index(
                fields=["recipient"],
                condition=models.Q(read_at__isnull=True),
                name="tickets_notif_user_unread",
            ),
        ]

    def __str__(self) -> str:
        return self.message


class OutboundMessage(models.Model):
    """An SMS or e-mail to a citizen, recorded whatever adapter sent it (the log adapter by default)."""

    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_messages",
    )
    channel = models.CharField(_("channel"), max_length=16)  # sms / email
    to = models.CharField(_("to"), max_length=128)
    body = models.TextField(_("text"))
    adapter = models.CharField(_("adapter"), max_length=64)
    status = models.CharField(_("status"), max_length=16, default="sent")
    error = models.CharField(_("error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")

    def __str__(self) -> str:
        return f"{self.channel} → {self.to}"
