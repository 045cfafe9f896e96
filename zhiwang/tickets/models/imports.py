"""``TicketImport``: one run of the hotline batch import (a CSV/Excel file of calls → tickets)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.scoping import scope_of
from zhiwang.tickets.models.vocabularies import Channel


class TicketImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class TicketImportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """City-wide users see every run; others the runs of their own unit, and their own runs.

        A run is scoped by the unit of the person who uploaded it (the file holds callers'
        names and phone numbers of that unit's hotline), not by place: its rows can be anywhere.
        """
        scope = scope_of(user)
        if scope.everything:
            return self
        if not (getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)):
            return self.none()
        condition = models.Q(created_by_id=user.pk)
        if getattr(user, "org_unit_id", None):
            condition |= models.Q(unit_id=user.org_unit_id)
        return self.filter(condition)

    def open(self):
        return self.filter(status__in=(TicketImportStatus.QUEUED, TicketImportStatus.RUNNING))


class TicketImport(models.Model):
    """One import of a file of calls, run by the task worker; the page polls its progress.

    The uploaded file is kept (``file``) so a failed or broken-off run can be run again:
    rows imported before are recognised (channel + call id) and not written twice. Who ran it
    again last, when, and how many times is on the run (``restarted_by``, ``restarted_at``,
    ``restart_count``). The file and the report are deleted ``ZHIWANG_IMPORT_KEEP_DAYS`` after
    the run ended (``tickets.import_retention``); the run's counts stay.
    ``refused_rows`` holds the first refused rows for the page; the report file has them all.
    """

    #: Refused rows kept on the run for the page (the report lists every row).
    REFUSED_SHOWN = 200

    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.HOTLINE)
    file = models.FileField(_("stored file"), upload_to="ticket_imports/%Y/%m/", max_length=255)
    file_name = models.CharField(_("file name"), max_length=255)
    validate_only = models.BooleanField(_("validate only"), default=False)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=TicketImportStatus.choices,
        default=TicketImportStatus.QUEUED,
        db_index=True,
    )
    rows_done = models.PositiveIntegerField(_("rows read"), default=0)
    rows_total = models.PositiveIntegerField(_("rows in file"), null=True, blank=True)
    created = models.PositiveIntegerField(_("tickets created"), default=0)
    existing = models.PositiveIntegerField(_("imported before"), default=0)
    refused = models.PositiveIntegerField(_("rows refused"), default=0)
    refused_rows = models.JSONField(_("first refused rows"), default=list, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    report = models.FileField(_("report"), upload_to="ticket_imports/%Y/%m/", max_length=255, blank=True)
    unit = models.ForeignKey(
        "accounts.OrgUnit",
        verbose_name=_("unit"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True, db_index=True)
    #: Who ran a failed or stalled run again last, and when (``web.tickets.import_runs.import_run_again``):
    #: the rows of that run are filed as their work (``tasks.ticket_import_run``), and the tickets'
    #: timelines name them, not the uploader. ``restart_count``: how many times it was run again
    #: (earlier restarters' names are on their rows' timelines).
    restarted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run again by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    restarted_at = models.DateTimeField(_("run again at"), null=True, blank=True)
    restart_count = models.PositiveIntegerField(_("times run again"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    #: The last write of the worker: an open run that stays silent lost its worker.
    updated_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    #: When the stored file and the report were deleted at the end of the keeping period
    #: (``ZHIWANG_IMPORT_KEEP_DAYS``): they hold callers' names and phone numbers.
    files_purged_at = models.DateTimeField(_("files deleted at"), null=True, blank=True)

    objects = TicketImportQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket import")
        verbose_name_plural = _("ticket imports")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["unit", "-created_at"], name="tickets_import_unit_recent")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    @property
    def is_open(self) -> bool:
        return self.status in (TicketImportStatus.QUEUED, TicketImportStatus.RUNNING)

    @property
    def imported_as(self) -> TicketImport | None:
        """For a validated run: the run that imported its file for real ("Import this file"), if any.

        That run shares the stored file (a new upload gets a new random name), so it is found by it.
        """
        if not self.validate_only or not self.file:
            return None
        return (
            TicketImport.objects.filter(file=self.file.name, validate_only=False)
            .exclude(pk=self.pk)
            .order_by("pk")
            .first()
        )

    @property
    def progress_percent(self) -> int:
        if self.status == TicketImportStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))
