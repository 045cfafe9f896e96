"""The hotline batch import: a CSV or Excel file of calls (one per row) becomes tickets.

Each row goes through the submit pipeline (``services.submit_batch``, a batch of rows per
transaction): the same validation, locating, routing, deadlines, duplicates and automatic
dispatch as a call recorded by hand. Every row gets an outcome — created, already imported (a
retry: same channel + call id), or refused with the field and the reason — and the report lists
them. Importing the same file again creates nothing new. ``validate_only`` runs every row
through the pipeline inside a transaction that is then rolled back: the report is exact, and
nothing is written (not even a ticket number is used up).

Column headers are matched in Chinese or English (``COLUMNS``); a header row may sit below a
title row. Rows without a call id get one derived from their content, so a re-import of the same
file is still recognised.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.core.errors import ServiceError
from zhiwang.core.spreadsheet import csv_row
from zhiwang.registry.imports.reading import SourceFile
from zhiwang.tickets import selectors
from zhiwang.tickets.models import Category, Channel, TicketKind, Urgency
from zhiwang.tickets.services.submit_batch import ticket_submit_many

#: Header (normalised: no spaces, no asterisks) → submission field.
COLUMNS = {
    "来电编号": "external_id",
    "话务编号": "external_id",
    "工单编号": "external_id",
    "外部编号": "external_id",
    "诉求类型": "kind",
    "类型": "kind",
    "分类编码": "category",
    "分类": "category",
    "诉求分类": "category",
    "标题": "title",
    "诉求内容": "description",
    "问题描述": "description",
    "内容": "description",
    "来电人": "reporter_name",
    "姓名": "reporter_name",
    "联系电话": "reporter_phone",
    "来电号码": "reporter_phone",
    "电话": "reporter_phone",
    "事发地址": "address_text",
    "地址": "address_text",
    "标准地址编码": "address_code",
    "地址编码": "address_code",
    "经度": "lon",
    "纬度": "lat",
    "紧急程度": "urgency",
    "来电时间": "received_at",
    "受理时间": "received_at",
}
FIELDS = (
    "external_id",
    "kind",
    "category",
    "title",
    "description",
    "reporter_name",
    "reporter_phone",
    "address_text",
    "address_code",
    "lon",
    "lat",
    "urgency",
    "received_at",
)
_URGENCY_WORDS = {
    "一般": Urgency.NORMAL,
    "普通": Urgency.NORMAL,
    "紧急": Urgency.URGENT,
    "特急": Urgency.URGENT,
}

#: Rows per transaction (one ``ticket_submit_many`` call).
BATCH_ROWS = 500


@dataclass(slots=True)  # one per row of the file: kept small
class RowOutcome:
    """One row's fate: ``created``, ``existing`` (imported before) or ``refused`` (with the reason)."""

    row: int
    external_id: str
    outcome: str
    number: str = ""
    code: str = ""
    field: str = ""
    message: str = ""
    #: The header of ``field``'s column as the file wrote it (what the operator knows it by).
    column: str = ""
    #: The row had no call id: ``external_id`` is the one derived from its content, not the file's.
    derived: bool = False


@dataclass
class ImportSummary:
    """Counts and every row's outcome, in file order."""

    rows: list[RowOutcome] = field(default_factory=list)
    validate_only: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def totals(self) -> dict[str, int]:
        return {name: self.count(name) for name in ("created", "existing", "refused")}


def import_tickets(
    path: Path | str,
    *,
    channel: str = Channel.HOTLINE,
    actor=None,
    validate_only: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportSummary:
    """Import the calls of a CSV/Excel file as tickets of ``channel`` (see the module docstring).

    ``progress(done, total)`` is called after each batch (``total`` is an upper bound, or None).
    Raises ``ServiceError`` (``import.format``, ``import.empty``, ``import.no_header``,
    ``import.encoding``, ``tickets.import_columns``) when the file as a whole cannot be read.
    """
    if channel not in Channel.values:
        raise ServiceError("tickets.invalid_channel", _("Unknown channel."), field="channel")
    source = open_calls_file(path)
    total = source.count_rows()
    summary = ImportSummary(validate_only=validate_only)
    validated: set[str] = set()  # keys this import created (validate-only: in rolled-back batches)
    names = category_names()
    headers = {name: source.header.labels.get(col, "") for col, name in source.header.fields.items()}
    for rows in _chunks(source.rows(), batch_rows):
        outcomes = _import_batch(
            rows, channel=channel, actor=actor, validate_only=validate_only, validated=validated, names=names
        )
        for outcome in outcomes:
            if outcome.field:
                outcome.column = headers.get(outcome.field) or field_label(outcome.field)
        summary.rows += outcomes
        if progress is not None:
            progress(len(summary.rows), total)
    return summary


#: Columns a file must have (the rest may be missing or empty).
REQUIRED_FIELDS = ("description", "kind")


def field_label(name: str) -> str:
    """The column an operator knows a field by (its first Chinese header), else the field's name."""
    return next((header for header, field_name in COLUMNS.items() if field_name == name), name)


def open_calls_file(path: Path | str) -> SourceFile:
    """The file opened and its header checked: ``ServiceError`` (on ``file``) when it cannot be imported.

    Codes: ``import.format``, ``import.empty``, ``import.encoding`` (from the reader),
    ``import.no_header``, ``tickets.import_columns``; the messages name columns as operators know them.
    """
    try:
        source = SourceFile(path, COLUMNS, FIELDS)
    except ServiceError as error:
        if error.code != "import.no_header":
            raise
        # The reader's own message speaks of mapping templates, which this import has none of.
        raise ServiceError(
            error.code,
            _(
                "No column of the file has a header this import knows (such as 诉求内容 or 诉求类型). "
                "Compare it with the example file."
            ),
            field="file",
        ) from None
    found = set(source.header.fields.values())
    missing = [name for name in REQUIRED_FIELDS if name not in found]
    if missing:
        raise ServiceError(
            "tickets.import_columns",
            _("The file has no column for: %(columns)s. Compare it with the example file.")
            % {"columns": "、".join(field_label(name) for name in missing)},
            field="file",
        )
    return source


def _chunks(rows: Iterator[tuple[int, dict]], size: int) -> Iterator[list[tuple[int, dict]]]:
    chunk = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _import_batch(
    rows: list[tuple[int, dict]], *, channel, actor, validate_only, validated: set[str], names: dict[str, str]
) -> list[RowOutcome]:
    outcomes: dict[int, RowOutcome] = {}
    rows_by_number = dict(rows)
    submissions, numbers = [], []
    for number, raw in rows:
        try:
            submission = row_submission(raw, channel=channel, names=names)
        except ServiceError as error:
            external_id = _text(raw.get("external_id"))
            outcomes[number] = _refused(number, external_id, error, derived=not external_id)
            continue
        submissions.append(submission)
        numbers.append(number)
    if submissions:
        if validate_only:  # written, then rolled back: the outcomes are the real ones
            with transaction.atomic():
                results = ticket_submit_many(submissions, actor=actor)
                transaction.set_rollback(True)
        else:  # no transaction around the read-only half (SQLite: no write lock while preparing)
            results = ticket_submit_many(submissions, actor=actor)
        # A key found on a ticket the importing user may not see is another area's call (a call id
        # reused, or the same content): refused without that ticket's number, as the intake page.
        # A ticket this very import created (the file repeats a call) is not another area's.
        ok = [r for r in results if not isinstance(r, ServiceError)]
        ours = validated | {r.ticket.idempotency_key for r in ok if r.created}
        hidden = _invisible(
            actor, [r.ticket for r in ok if not r.created and r.ticket.idempotency_key not in ours]
        )
        for number, submission, result in zip(numbers, submissions, results, strict=True):
            external_id = submission["external_id"]
            derived = not _text(rows_by_number[number].get("external_id"))
            if isinstance(result, ServiceError):
                outcomes[number] = _refused(
                    number, external_id, result, derived=derived, category_given=bool(submission["category"])
                )
            elif not result.created and result.ticket.pk in hidden:
                outcomes[number] = _taken_elsewhere(number, external_id, derived=derived)
            else:
                created = result.created
                if created:
                    key = result.ticket.idempotency_key
                    if (
                        validate_only
                    ):  # an earlier batch's row with this key was rolled back; importing finds it
                        created = key not in validated
                    validated.add(key)
                outcome = "created" if created else "existing"
                shown = "" if validate_only and result.created else result.ticket.number
                outcomes[number] = RowOutcome(number, external_id, outcome, number=shown, derived=derived)
    return [outcomes[number] for number, _raw in rows]


#: Fields whose refusal is reported first: a row without a description cannot be classified
#: either, and the operator has to fix the description before anything else.
_FIRST_FIELDS = ("description",)


def _refused(
    row: int, external_id: str, error: ServiceError, *, derived: bool = False, category_given: bool = True
) -> RowOutcome:
    """A refused row with the field's own reason: one field error is reported with its code and
    message (not the pipeline's general "invalid fields"); several with every field's message,
    under the first field (the description first: without it nothing else can be judged).

    A row with an empty category that the classifier could not place is not refused as an unknown
    category (the operator chose none): ``tickets.category_not_inferred`` asks them to fill it in."""
    fields = [_not_inferred(f) if not category_given else f for f in error.fields or []]
    fields.sort(key=lambda f: f.field not in _FIRST_FIELDS)  # stable: otherwise the pipeline's order
    if len(fields) == 1:
        only = fields[0]
        return RowOutcome(
            row,
            external_id,
            "refused",
            code=only.code or error.code,
            field=only.field or error.field or "",
            message=only.message or error.message,
            derived=derived,
        )
    field_name = fields[0].field if fields else error.field or ""
    message = join_messages([f.message for f in fields]) if fields else error.message
    return RowOutcome(
        row, external_id, "refused", code=error.code, field=field_name, message=message, derived=derived
    )


def _not_inferred(error):
    """A field error, with an unknown category said as "could not be inferred" (none was given)."""
    if error.field != "category" or error.code != "tickets.category_unknown":
        return error
    return dataclasses.replace(
        error,
        code="tickets.category_not_inferred",
        message=_("The category could not be inferred from the text; fill in the 分类编码 column."),
    )


def join_messages(messages: list[str]) -> str:
    """Several reasons as one text: nothing after a Chinese full stop, a space after an English one,
    else the language's separator (Chinese "；", English "; ")."""
    text = ""
    for message in messages:
        if text:
            if text.endswith(("。", "！", "？", "；")):
                pass
            elif text.endswith((".", "!", "?")):
                text += " "
            else:
                text += pgettext("separator between the reasons a row was refused", "; ")
        text += message
    return text


def _taken_elsewhere(row: int, external_id: str, *, derived: bool) -> RowOutcome:
    """A row whose key is another area's ticket: refused, without that ticket's number."""
    if derived:  # no call id in the file: the same content was imported by another area
        message = _(
            "The same call was already imported as a ticket outside your area; give the call its own id."
        )
    else:
        message = _(
            "This call id was already used for another ticket outside your area; give the call its own id."
        )
    return RowOutcome(
        row,
        external_id,
        "refused",
        code="tickets.import_id_taken",
        field="external_id",
        message=message,
        derived=derived,
    )


def _invisible(actor, tickets: list) -> set[int]:
    """The pks of ``tickets`` the importing user may not see (none when the import has no user)."""
    if actor is None or not tickets:
        return set()
    visible = {ticket.pk for ticket in selectors.visible_among(user=actor, tickets=tickets)}
    return {ticket.pk for ticket in tickets if ticket.pk not in visible}


def category_names() -> dict[str, str]:
    """Name → code of the active leaf categories whose name is unique (hotline exports often carry
    the category's name, not its code; an ambiguous name stays as written and is refused)."""
    leaves = (
        Category.objects.filter(is_active=True).exclude(children__is_active=True).values_list("name", "code")
    )
    codes_of: dict[str, list[str]] = {}
    for name, code in leaves:
        codes_of.setdefault(name, []).append(code)
    return {name: codes[0] for name, codes in codes_of.items() if len(codes) == 1}


def row_submission(raw: dict, *, channel: str, names: dict[str, str] | None = None) -> dict:
    """The ``ticket_submit`` arguments of one row; ``ServiceError`` naming the cell that cannot be read."""
    values = {name: _text(raw.get(name)) for name in FIELDS if name not in ("lon", "lat", "received_at")}
    submission = {
        "channel": channel,
        "kind": _kind(values["kind"]),
        "category": (names or {}).get(values["category"], values["category"]) or None,
        "description": values["description"],
        "title": values["title"],
        "reporter_name": values["reporter_name"],
        "reporter_phone": values["reporter_phone"],
        "address_text": values["address_text"],
        "address_code": values["address_code"],
        "urgency": _URGENCY_WORDS.get(values["urgency"], values["urgency"] or Urgency.NORMAL),
        "lon": _number(raw.get("lon"), "lon"),
        "lat": _number(raw.get("lat"), "lat"),
        "received_at": _moment(raw.get("received_at")),
    }
    submission["external_id"] = values["external_id"] or "row-" + _digest(submission)
    return submission


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # Excel keeps long numbers as floats
        return str(int(value))
    return str(value).strip()


def _kind(value: str) -> str:
    for kind in TicketKind:
        if value in (kind.value, str(kind.label)) or value == KIND_WORDS.get(kind.value):
            return kind.value
    return value  # unknown: the pipeline refuses it with its own message


KIND_WORDS = {
    "inquiry": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    "praise": "表扬",
    "incident": "事件",
}


def _number(value, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(str(value).strip())
    except (ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):  # "nan", "inf" and "1e999" read as floats: no coordinate either
        raise ServiceError("geo.not_a_number", _("Not a number."), field=name)
    return number


def _moment(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().replace("/", "-")
        try:
            moment = parse_datetime(text if " " in text or "T" in text else f"{text} 00:00")
        except (ValueError, OverflowError):  # well formed but impossible (2026-13-45, 25:00, +99:00)
            moment = None
        if moment is None:
            raise ServiceError(
                "tickets.bad_time",
                _("Write the call time as 2026-11-20 10:05."),
                field="received_at",
            )
    if timezone.is_naive(moment):  # a file's times are local (Asia/Shanghai)
        moment = timezone.make_aware(moment)
    return moment


def _digest(submission: dict) -> str:
    """A stable id for a row without a call id: the same row gives the same id in every import."""
    text = "\x1f".join(str(submission.get(name) or "") for name in sorted(submission) if name != "channel")
    return hashlib.sha1(text.encode()).hexdigest()[:24]


#: The report's columns (Chinese first: the people reading it are intake operators).
REPORT_HEADER = ("行号", "来电编号", "结果", "工单编号", "错误代码", "字段", "说明")
_OUTCOME_WORDS = {"created": "已立单", "existing": "已导入过", "refused": "未通过"}


def write_report(summary: ImportSummary, path: Path | str) -> None:
    """The row-by-row report as CSV (UTF-8 with BOM, which Excel opens correctly)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_HEADER)
        for r in summary.rows:
            outcome = _OUTCOME_WORDS[r.outcome]
            if summary.validate_only and r.outcome == "created":
                outcome = "可立单"
            # The call id is the file's text and a message may quote it; the report is opened in
            # Excel or WPS, by the operator and whoever reads the run after them: no cell may
            # start a formula (``core.spreadsheet``: a CSV cell gets a leading apostrophe).
            # A derived call id means nothing to the operator: the row number says which row it is.
            external_id = "" if r.derived else r.external_id
            column = r.column or (field_label(r.field) if r.field else "")
            writer.writerow(csv_row((r.row, external_id, outcome, r.number, r.code, column, r.message)))
