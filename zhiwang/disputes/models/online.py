"""Online mediation: meetings with a room, and one-time links for parties to confirm the agreement."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.disputes.models.cases import Agreement, DisputeCase, Party

# --- online mediation ------------------------------------------------------------------


class OnlineMeeting(models.Model):
    """A mediation session scheduled online (在线调解): a meeting room and, when a video service is
    configured (``ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE``), the link to it. Held, it is recorded as a
    ``MediationSession`` with ``online`` set, like any other sitting."""

    case = models.ForeignKey(
        DisputeCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="online_meetings"
    )
    scheduled_at = models.DateTimeField(_("scheduled for"))
    room = models.CharField(_("meeting room"), max_length=32, unique=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("scheduled by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("online mediation meeting")
        verbose_name_plural = _("online mediation meetings")
        ordering = ["scheduled_at", "pk"]

    def __str__(self) -> str:
        return f"{self.case.number} {self.room}"

    @property
    def video_url(self) -> str:
        """The room's link built from the configured template; "" when no video service is configured."""
        template = getattr(settings, "ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE", "")
        return template.replace("{room}", self.room) if template else ""


class ConfirmationLink(models.Model):
    """A one-time, expiring, signed link by which one party confirms the agreement online.

    Only a hash of the link's secret part is stored: the link itself is sent to the party
    and shown once to the mediator. Issuing a new link for the same party ends the older one.
    """

    agreement = models.ForeignKey(
        Agreement, verbose_name=_("agreement"), on_delete=models.CASCADE, related_name="confirmation_links"
    )
    party = models.ForeignKey(
        Party, verbose_name=_("party"), on_delete=models.CASCADE, related_name="confirmation_links"
    )
    secret_hash = models.CharField(_("secret hash"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expires at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("issued by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    used_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    used_ip = models.GenericIPAddressField(_("confirmed from IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("agreement confirmation link")
        verbose_name_plural = _("agreement confirmation links")
        ordering = ["agreement", "party", "-created_at"]

    def __str__(self) -> str:
        return f"{self.agreement.number} → {self.party_id}"
