"""``QueuedSubmission``: a submission accepted now and put through the submit pipeline a moment later.

``POST /api/v1/tickets/`` with ``Prefer: respond-async`` answers ``202 Accepted`` with a receipt
as soon as the submission is checked and stored here; the task worker then runs the whole
pipeline (locate, route, number, dispatch) for many queued submissions at once
(``services.submit_queue``). A peak of calls (a storm, a water cut) is absorbed at the cost of
one insert per request, and the receipt tells the client the ticket number, or why it was
refused, moments later.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class QueuedStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    PROCESSING = "processing", _("Processing")
    DONE = "done", _("Done")
    REFUSED = "refused", _("Refused")


class QueuedSubmission(models.Model):
    """One accepted submission and, once processed, its ticket or the reason it was refused.

    ``key`` is the ticket's idempotency key (``channel:u<user id>:<external id>``): a retry of
    the same submission finds this row (or the ticket it became) instead of queueing it twice.
    ``payload`` (the submission, with the reporter's name and phone) is emptied once processed:
    the ticket holds what is kept; ``idempotency_fingerprint`` stays, so that a retry with other
    content is refused at any time.
    """

    receipt = models.UUIDField(_("receipt"), default=uuid.uuid4, unique=True, editable=False)
    key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    #: SHA-256 of the submission's cleaned content (``services.intake_validation.submission_fingerprint``,
    #: as on the ticket it becomes): a retry of the key with other content is refused, and the
    #: payload is emptied once processed, so this is what a later retry is compared with.
    #: Empty: queued before fingerprints were kept (every retry gets the receipt).
    idempotency_fingerprint = models.CharField(
        _("idempotency fingerprint"), max_length=64, blank=True, default=""
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="queued_submissions",
        verbose_name=_("submitted by"),
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reporter"),
    )
    payload = models.JSONField(_("submission"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=QueuedStatus.choices, default=QueuedStatus.QUEUED
    )
    accepted_at = models.DateTimeField(_("accepted at"), auto_now_add=True)
    claim = models.CharField(_("claim"), max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ticket"),
    )
    created = models.BooleanField(_("created the ticket"), default=False)
    error = models.JSONField(_("error"), default=dict, blank=True)

    class Meta:
        verbose_name = _("queued submission")
        verbose_name_plural = _("queued submissions")
        indexes = [
            models.Index(fields=["status", "id"], name="tickets_queued_claim"),
            models.Index(fields=["accepted_at"], name="tickets_queued_age"),
        ]

    def __str__(self):
        return f"{self.receipt} ({self.status})"
