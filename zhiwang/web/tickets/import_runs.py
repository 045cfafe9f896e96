"""The hotline batch import as the web pages use it: the upload form, registering a run, the example file.

The import itself runs in the task worker (``tickets.tasks.ticket_import_task``); here the
uploaded file is stored and its header checked at once, so a file that cannot be imported
at all is refused on the form, before anything is queued.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import uuid
from datetime import timedelta
from pathlib import Path

from django import forms
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from zhiwang.core.errors import ServiceError
from zhiwang.core.sentences import sentence_gap
from zhiwang.registry.imports.reading import SourceFile
from zhiwang.tickets.hotline_import import COLUMNS, FIELDS, open_calls_file
from zhiwang.tickets.models import Channel, TicketImport, TicketImportStatus
from zhiwang.web.tickets.forms import AccessibleForm

#: Largest upload taken on the page (a day of hotline calls is a few MB; bigger: the command).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
#: The example file's header (the names operators know from the hotline system's export).
EXAMPLE_HEADER = (
    "来电编号",
    "诉求类型",
    "分类编码",
    "诉求内容",
    "来电人",
    "联系电话",
    "事发地址",
    "标准地址编码",
    "来电时间",
)
#: An open run without a progress write for this long lost its worker: it may be run again.
STALE_SECONDS = 10 * 60


def field_headers() -> dict[str, list[str]]:
    """Each field's accepted headers (Chinese, in ``COLUMNS`` order); the field's own name is accepted too."""
    headers: dict[str, list[str]] = {name: [] for name in FIELDS}
    for header, name in COLUMNS.items():
        headers[name].append(header)
    return headers


class TicketImportForm(AccessibleForm):
    file = forms.FileField(
        label=gettext_lazy("File (CSV in UTF-8 or GBK, or Excel .xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(SUFFIXES)}),
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        choices=[(Channel.HOTLINE, Channel.HOTLINE.label), (Channel.WINDOW, Channel.WINDOW.label)],
        initial=Channel.HOTLINE,
    )
    validate_only = forms.BooleanField(
        label=gettext_lazy("Validate only (check every row, create no ticket)"), required=False
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name or "").suffix.lower() not in SUFFIXES:
            raise forms.ValidationError(_("Upload a CSV or an Excel (.xlsx) file."))
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _(
                    "The file is larger than 50 MB; split it, or import it with the command zhiwang import-tickets."
                )
            )
        return upload


def check_file(path: Path | str) -> SourceFile:
    """The file opened and its header checked (``hotline_import.open_calls_file``)."""
    return open_calls_file(path)


def enqueue(run: TicketImport, actor=None) -> None:
    """Queue the run for the task worker once the transaction that wrote it commits; ``actor``:
    who queued it when not its uploader (it runs as them, ``tasks.ticket_import_run``)."""
    from zhiwang.tickets.tasks import ticket_import_task

    actor_id = getattr(actor, "pk", None)
    transaction.on_commit(lambda: ticket_import_task(run.pk, actor_id))


def import_run_create(*, actor, upload, channel: str, validate_only: bool) -> TicketImport:
    """Store the uploaded file, check its header and queue a run (``ServiceError`` on ``file``)."""
    suffix = Path(upload.name or "").suffix.lower()
    run = TicketImport(
        channel=channel,
        file_name=os.path.basename(upload.name or "file")[:255] or "file",
        validate_only=validate_only,
        unit_id=getattr(actor, "org_unit_id", None),
        created_by=actor,
    )
    run.file.save(f"{uuid.uuid4().hex}{suffix}", upload, save=False)
    try:
        source = check_file(run.file.path)
        run.rows_total = source.count_rows()
        with transaction.atomic():
            run.save()
            enqueue(run)
    except BaseException:
        # Whatever went wrong, no run refers to the stored file (it holds callers' names and
        # phone numbers) and the keeping period would never delete it: it goes now.
        with contextlib.suppress(OSError):
            run.file.delete(save=False)
        raise
    return run


def import_run_again(*, run: TicketImport, actor) -> TicketImport:
    """Run a failed or stalled run again, or import for real a file that was only validated.

    The file's rows imported before are recognised by their call id, so nothing is written twice.
    A run run again records who did it and when (``restarted_by``, ``restarted_at``,
    ``restart_count``): its rows are filed as their work.
    Returns the run that was queued (a new one for a validated file). A validated file is imported
    for real once: a second "Import this file" (a double click, a stale page) returns the run the
    first one queued, or ``tickets.import_already_imported`` (409) when the caller may not see it.
    """
    if run.files_purged_at is not None or not run.file:
        raise ServiceError(
            "tickets.import_file_deleted",
            _("The file of this import was deleted at the end of its keeping period; upload it again."),
            status=409,
        )
    if run.validate_only and run.status == TicketImportStatus.DONE:
        with transaction.atomic():
            # The claim: a write on the validated run's row holds its lock (PostgreSQL: the row;
            # SQLite: the database) until this transaction commits, so a second click waits for
            # the first and then finds the run it queued (nothing is changed on the row).
            claimed = TicketImport.objects.filter(pk=run.pk, files_purged_at__isnull=True).update(
                updated_at=F("updated_at")
            )
            if not claimed:
                raise ServiceError(
                    "tickets.import_file_deleted",
                    _(
                        "The file of this import was deleted at the end of its keeping period; upload it again."
                    ),
                    status=409,
                )
            already = run.imported_as
            if already is not None:
                if TicketImport.objects.visible_to(actor).filter(pk=already.pk).exists():
                    return already  # a second click: the run the first one queued
                raise ServiceError(
                    "tickets.import_already_imported",
                    _("This file was already imported (import #%(pk)s).") % {"pk": already.pk},
                    status=409,
                )
            again = TicketImport.objects.create(
                channel=run.channel,
                file=run.file.name,
                file_name=run.file_name,
                validate_only=False,
                rows_total=run.rows_total,
                unit_id=getattr(actor, "org_unit_id", None),
                created_by=actor,
            )
            enqueue(again)
        return again
    elif may_run_again(run):
        again = run
        # Only if nobody queued it meanwhile (a double click): the row must be as this caller saw it.
        # The run records who ran it again (its rows are filed as theirs from now on) and when.
        now = timezone.now()
        claimed = TicketImport.objects.filter(
            pk=run.pk, status=run.status, updated_at=run.updated_at, files_purged_at__isnull=True
        ).update(
            status=TicketImportStatus.QUEUED,
            error="",
            updated_at=now,
            restarted_by=actor,
            restarted_at=now,
            restart_count=F("restart_count") + 1,
        )
        if not claimed:
            raise ServiceError("tickets.import_busy", _("This import is still running."), status=409)
    else:
        raise ServiceError("tickets.import_busy", _("This import is still running."), status=409)
    # the colleague who runs it again files its rows as their own work (the uploader may have left)
    enqueue(again, actor)
    return again


def may_run_again(run: TicketImport) -> bool:
    if run.files_purged_at is not None or not run.file:
        return False
    if run.status == TicketImportStatus.FAILED:
        return True
    if run.status in (TicketImportStatus.QUEUED, TicketImportStatus.RUNNING):
        last = run.updated_at or run.created_at
        return (timezone.now() - last).total_seconds() > STALE_SECONDS
    return False


#: Marks after which Chinese starts the next sentence without a space ("…上传。已由…").
def _when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def run_authors(run: TicketImport) -> dict[str, str]:
    """Who started the run, as its page says it in the active language: ``uploaded`` (who
    uploaded it, when), ``restarted`` (who ran it again last, when; ``""`` if nobody did) and
    ``gap``, what goes between the two. The sentences are HTML-safe (the names in them escaped).

    Run again once and several times are two sentences, not one plural: Chinese has a single
    plural form, so a plural entry would say "run again 1 time, last by…" for the one re-run."""
    # as {% blocktranslate %} does: the names escaped, the translated text as written (marked safe)
    uploaded = _("Uploaded by %(who)s on %(when)s.") % {
        "who": conditional_escape(run.created_by or "—"),
        "when": _when(run.created_at),
    }
    restarted = ""
    if run.restarted_at:
        # ``count`` is given to both: a translation that kept it cannot fail the page
        values = {
            "who": conditional_escape(run.restarted_by or "—"),
            "when": _when(run.restarted_at),
            "count": run.restart_count,
        }
        if run.restart_count > 1:
            restarted = pgettext(
                "an import run again several times",
                "Run again %(count)s times, last by %(who)s on %(when)s: each run's tickets are "
                "filed as the work of whoever ran it.",
            )
        else:
            restarted = pgettext(
                "an import run again once",
                "Run again by %(who)s on %(when)s: the tickets created since are filed as their work.",
            )
        restarted %= values
    return {
        "uploaded": mark_safe(uploaded),
        "restarted": mark_safe(restarted),
        "gap": sentence_gap(uploaded),
    }


def example_csv(category_codes: list[str]) -> bytes:
    """An example file with the Chinese headers and two calls (UTF-8 with BOM: Excel opens it).

    The calls were received an hour and a half and half an hour before the download (whole
    minutes, local time): a fixed time of day would be in the future early in the morning, and
    the import refuses such a row (``tickets.received_in_future``)."""
    codes = (category_codes + ["", ""])[:2]
    now = timezone.localtime().replace(second=0, microsecond=0)
    first, second = (f"{now - timedelta(minutes=minutes):%Y-%m-%d %H:%M}" for minutes in (90, 30))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXAMPLE_HEADER)
    writer.writerow(
        (
            "RX-0001",
            "投诉",
            codes[0],
            "小区门口垃圾堆放多日无人清运。",
            "王先生",
            "13800138000",
            "南山区南头街道某某小区门口",
            "",
            first,
        )
    )
    writer.writerow(
        (
            "RX-0002",
            "咨询",
            codes[1],
            "咨询垃圾分类的投放时间。",
            "李女士",
            "13900139000",
            "",
            "",
            second,
        )
    )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
