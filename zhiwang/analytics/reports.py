"""Monthly and quarterly reports of a division: Excel (native charts) and PDF (reportlab charts).

The figures are those of the dashboard (``selectors``, from the rollups), the disputes panel
(``selectors.dispute_figures``, scoped to the person who asked for the report, as the panel
is) and the governance index of the period's months; the files are stored on the ``Report`` row.

The files are official documents sent up to the higher government: they are always written in
the city's language (``city_language``), whoever asked and whichever process makes them, so
every reader downloads the same document. A period that has not ended yet (the current month
or quarter) is reported up to the day the files are made, and the title says so.
"""

from __future__ import annotations

import io
import math
from datetime import date, timedelta

from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.analytics import selectors
from zhiwang.analytics.index import INDICATOR_LABELS
from zhiwang.analytics.models import GovernanceIndex, Report
from zhiwang.core.pdf_fonts import pdf_font
from zhiwang.core.spreadsheet import xlsx_row
from zhiwang.tickets.notify import city_language

RATE_NAMES = ("on_time_rate", "satisfaction_rate", "resolution_rate", "rework_rate")


def _labels(*, ended: bool = True) -> dict[str, str]:
    """The figures' names, the dashboard's: the stock of an ended period is the stock at its end
    ("Open at the end of the window", 期末未办结), "now" only for a period still running."""
    return {
        "received": _("Received"),
        "closed": _("Closed"),
        "overdue": _("Went overdue"),
        "open": _("Open at the end of the window") if ended else _("Open now"),
        "overdue_open": _("Overdue at the end of the window") if ended else _("Overdue now"),
        # the window's share of closures on time (``selectors.metrics._rates``), not the governance
        # index's assessed on-time closure rate (replied by the deadline ÷ due to close): its own name
        "on_time_rate": _("On time among closures"),
        # these three are the index's indicators over the same tickets: one name each
        "satisfaction_rate": str(INDICATOR_LABELS["satisfaction_rate"]),
        "resolution_rate": str(INDICATOR_LABELS["resolution_rate"]),
        "rework_rate": str(INDICATOR_LABELS["rework_rate"]),
        "reopened": _("Reopened"),
        "rated": _("Rated"),
    }


#: The disputes panel's figures in the reports, in the dashboard's order (counts, then rates, amounts).
DISPUTE_COUNTS = (
    "received",
    "open",
    "closed",
    "success",
    "referred",
    "prevented_escalation",
    "red_open",
    "backlog_open",
)
DISPUTE_RATES = ("success_rate", "on_time_rate")
DISPUTE_AMOUNTS = ("amount_involved", "amount_resolved")


def _dispute_labels(*, ended: bool = False) -> dict[str, str]:
    """The dashboard panel's labels (``selectors.dispute_labels``, the same function); for a period
    that has ended the figures are as of its end (``disputes.selectors.dispute_indicators``) and
    their names say so (期末在办, 期末防止激化…)."""
    return selectors.dispute_labels(ended=ended)


def _dispute_rows(disputes: dict) -> list[tuple[str, object, str]]:
    """``(label, value, text)`` per figure: counts, rates (0–1, text in %), amounts (yuan)."""
    labels = _dispute_labels(ended=disputes.get("as_of") is not None)
    rows = [(labels[k], disputes.get(k, 0), str(disputes.get(k, 0))) for k in DISPUTE_COUNTS]
    for k in DISPUTE_RATES:
        value = disputes.get(k)
        rows.append((labels[k], value, "—" if value is None else f"{value:.1%}"))
    for k in DISPUTE_AMOUNTS:
        value = float(disputes.get(k) or 0)
        rows.append((labels[k], value, f"{value:,.2f}"))
    return rows


def _dispute_note(disputes: dict) -> str:
    """Under the dispute figures of an ended period: the day their status figures are read at."""
    as_of = disputes.get("as_of")
    if as_of is None:
        return ""
    day = timezone.localdate(as_of - timedelta(microseconds=1))  # the end is exclusive
    return " ".join(
        (
            _("Open and closed as of the end of %(day)s: a case closed after that day counts as open here.")
            % {"day": day.isoformat()},
            _("The cases are those received in the period."),
        )
    )


def _score_text(score) -> str:
    """A governance score as the index page shows it: a number out of 100 with its one or two
    decimals ("100.0", "99.17"), never a percentage."""
    return "—" if score is None else str(round(float(score), 2))


#: Excel number formats: rates are fractions (0–1) shown as percentages, scores with one or two
#: decimals, amounts with thousands separators.
XLSX_RATE = "0.0%"
XLSX_SCORE = "0.0#"
XLSX_AMOUNT = "#,##0.00"


def _xlsx_format(
    sheet, number_format: str, *, row: int | None = None, columns=(), first_row: int = 2
) -> None:
    """Give cells a number format: one cell (``row`` with one column) or whole columns from
    ``first_row`` down (a column's header stays text)."""
    rows = [row] if row is not None else range(first_row, sheet.max_row + 1)
    for r in rows:
        for column in columns:
            cell = sheet.cell(row=r, column=column)
            if isinstance(cell.value, (int, float)):
                cell.number_format = number_format


def _on_time_note() -> str:
    """What "On time among closures" counts (the dashboard's hint), under the summary."""
    label = _("On time among closures")
    definition = _(
        "Of the tickets closed in this period (closed after the follow-up or answered directly), "
        "the share closed on time; a direct answer or a ticket without a deadline counts as on "
        "time. Not the assessed on-time closure rate (replied by the deadline ÷ due to close), "
        "which the governance index and the indicators page show."
    )
    return f"{label}: {definition}"


#: The index's levels in the report, the higher first (``GovernanceIndex.level``).
INDEX_LEVEL_ORDER = ("subdistrict", "community")


def _index_rows(rows) -> list:
    """The index rows by month, level (subdistricts, then communities), rank within the level
    (unranked last: too few tickets by score, then no score), code: each level's ranks are its
    own, as on the index page."""
    return sorted(
        rows,
        key=lambda r: (
            r.month,
            INDEX_LEVEL_ORDER.index(r.level) if r.level in INDEX_LEVEL_ORDER else len(INDEX_LEVEL_ORDER),
            r.rank is None,
            r.rank or 0,
            r.score is None,
            -(r.score or 0),
            r.division.code,
        ),
    )


def _index_rank(row):
    """The rank cell: the rank, or why there is none (a place scored on too few tickets)."""
    if row.unranked_reason == "too_few_tickets":
        return _("Not ranked (too few tickets: %(n)s, at least %(min)s)") % {
            "n": "—" if row.volume is None else row.volume,
            "min": row.min_volume,
        }
    return row.rank


def _index_tied(rows) -> set[tuple]:
    """``(month, level, rank)`` of the ranks shared by equal scores, among all the city's
    divisions of the level (a rank is the city's, so a place of the report may share it with
    one outside): ``selectors.shared_ranks``, as the index page reads them."""
    return selectors.shared_ranks({r.month for r in rows if r.rank is not None})


def _pdf_rank(row, tied: set[tuple]) -> str:
    """The PDF's rank cell in the index page's words: "并列1" for a rank equal scores share."""
    if row.unranked_reason == "too_few_tickets":
        return _index_rank(row)
    if row.rank is None:
        return "—"
    if (row.month, row.level, row.rank) in tied:
        return pgettext("a rank shared by equal scores", "%(rank)s (tied)") % {"rank": row.rank}
    return str(row.rank)


def _level_name(level: str) -> str:
    from zhiwang.geo.models import DivisionLevel

    return str(DivisionLevel(level).label) if level in DivisionLevel.values else level


def _index_note() -> str:
    return " ".join(
        (
            _("Ranks are within each level, among all the city's divisions of that level."),
            _("Equal scores share a rank and a standing."),
            _(
                "A place with fewer tickets due to close in the month than the formula's minimum is "
                "scored but not ranked, and is on neither list."
            ),
        )
    )


def covered_until(report: Report, today: date | None = None) -> date | None:
    """The last day a report made ``today`` covers when its period has not ended yet (the
    figures stop there), else ``None`` (the whole period)."""
    today = today or timezone.localdate()
    return today if today < report.end else None


def report_figures(report: Report, today: date | None = None) -> dict:
    until = covered_until(report, today)
    # a period still running is counted up to today: no empty days after it in the trend
    end = max(report.start, until + timedelta(days=1)) if until is not None else report.end
    place = selectors.Place(report.division)
    figures = selectors.dashboard(place=place, start=report.start, end=end, by="day")
    figures["until"] = until
    # the disputes panel as the requester sees it on the dashboard (none for a data steward, or
    # when the requester is gone: the figures depend on who may see the cases)
    user = report.requested_by
    figures["disputes"] = (
        selectors.dispute_figures(user=user, place=place, start=report.start, end=end)
        if user is not None and user.is_active and selectors.may_see_disputes(user)
        else None
    )
    figures["index"] = _index_rows(
        GovernanceIndex.objects.filter(
            division__code__startswith=report.division.code_prefix,
            month__gte=report.start,
            month__lt=report.end,
        ).select_related("division")
    )
    figures["index_tied"] = _index_tied(figures["index"])
    return figures


def build_report_files(report: Report, *, progress=lambda value: None) -> None:
    """Make both files, in the city's language (an official document: the same for every reader).

    Both are made in memory first, then stored on ``report`` (not saved to the database: the
    caller records them). A failure leaves no file behind: one stored before the failure is
    deleted (the files may hold dispute figures, and a retry makes new ones).
    """
    with city_language():
        _build_report_files(report, progress=progress)


def _build_report_files(report: Report, *, progress) -> None:
    figures = report_figures(report)
    # who may download the files depends on it (``services.may_download_report``)
    report.includes_disputes = figures["disputes"] is not None
    progress(30)
    xlsx = build_xlsx(report, figures)
    progress(65)
    pdf = build_pdf(report, figures)
    progress(90)
    name = f"report-{report.division.code}-{report.period}"
    saved = []
    try:
        for file, suffix, content in ((report.xlsx, "xlsx", xlsx), (report.pdf, "pdf", pdf)):
            file.save(f"{name}.{suffix}", ContentFile(content), save=False)
            saved.append(file)
    except BaseException:
        report_files_delete(*saved)
        raise


def report_files_delete(*files) -> None:
    """Delete report files stored by ``build_report_files`` and not recorded on the row (a failed
    or abandoned generation), and forget them."""
    for file in files:
        if file.name:
            file.storage.delete(file.name)
            file.name = ""


def _title(report: Report, until: date | None = None) -> str:
    values = {"place": report.division.name, "period": report.period}
    if until is None:
        return _("%(place)s ticket report, %(period)s") % values
    return _("%(place)s ticket report, %(period)s (up to %(date)s)") % {**values, "date": until.isoformat()}


def _last_day(report: Report) -> date:
    """The period's last day, included (the stored ``end`` is the day after it)."""
    return report.end - timedelta(days=1)


def _last_day_label() -> str:
    """The Excel summary's label of the period's last day (included, as the PDF prints it)."""
    return pgettext("a report's period: its last day, included", "To")


def _period_line(report: Report) -> str:
    """The period under the PDF's title by its first and last day ("2026-10-01 至 2026-10-31"):
    the stored end is exclusive, and "2026-10-01 — 2026-11-01" read as including 1 November."""
    return pgettext("a report's period: its first and last day", "%(first)s to %(last)s") % {
        "first": report.start.isoformat(),
        "last": _last_day(report).isoformat(),
    }


def _partial_note(report: Report, until: date) -> str:
    """The sentence under the title of a report of a period not yet ended."""
    if until < report.start:
        return _("The period has not begun yet: this report has no figures.")
    return _("The period has not ended: these figures cover %(start)s to %(until)s only.") % {
        "start": report.start.isoformat(),
        "until": until.isoformat(),
    }


def _append(sheet, values) -> None:
    """One row of the workbook: text as text, never a formula (``core.spreadsheet.xlsx_row``).

    Names come from other people's data — a category, a unit, a division, an address, an alert's
    words — and openpyxl stores any text starting with "=" as a formula, which Excel would run.
    """
    sheet.append(xlsx_row(sheet, values))


def build_xlsx(report: Report, figures: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Font

    until = figures.get("until")
    labels = _labels(ended=until is None)
    wb = Workbook()
    ws = wb.active
    ws.title = pgettext("report", "Summary")[:31]
    _append(ws, [_title(report, until)])
    ws["A1"].font = Font(bold=True, size=14)
    # the period's first and last day, as the PDF's line under the title: the stored end is
    # exclusive, and "To (exclusive) 2026-11-01" made readers look for a 1 November in the figures
    _append(ws, [_("From"), report.start.isoformat(), _last_day_label(), _last_day(report).isoformat()])
    if until is not None:
        _append(ws, [_partial_note(report, until)])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True, color="B42318")
    s = figures["summary"]
    _append(ws, [])
    for key in ("received", "closed", "reopened", "rated"):
        _append(ws, [labels[key], s.flows.get(key, 0)])
    for key in ("open", "overdue_open"):
        _append(ws, [labels[key], s.stocks.get(key, 0)])
    for key in RATE_NAMES:
        _append(ws, [labels[key], s.rates.get(key)])
        _xlsx_format(ws, XLSX_RATE, row=ws.max_row, columns=[2])
    _append(ws, [])
    _append(ws, [_on_time_note()])

    trend = wb.create_sheet(_("Trend")[:31])
    _append(trend, [_("Day"), labels["received"], labels["closed"], labels["overdue"]])
    for row in figures["trend"]:
        _append(trend, [row["period"], row["received"], row["closed"], row["overdue"]])
    if figures["trend"]:
        chart = LineChart()
        chart.title = _("Volume and trend")
        chart.add_data(
            Reference(trend, min_col=2, max_col=4, min_row=1, max_row=len(figures["trend"]) + 1),
            titles_from_data=True,
        )
        chart.set_categories(Reference(trend, min_col=1, min_row=2, max_row=len(figures["trend"]) + 1))
        chart.width, chart.height = 24, 10
        trend.add_chart(chart, "F2")

    cats = wb.create_sheet(_("Categories")[:31])
    _append(cats, [_("Category"), _("Tickets")])
    for row in figures["categories"]:
        _append(cats, [_category_name(row["name"]), row["value"]])
    if figures["categories"]:
        bar = BarChart()
        bar.type = "bar"
        bar.title = _("Top categories")
        bar.add_data(
            Reference(cats, min_col=2, min_row=1, max_row=len(figures["categories"]) + 1),
            titles_from_data=True,
        )
        bar.set_categories(Reference(cats, min_col=1, min_row=2, max_row=len(figures["categories"]) + 1))
        bar.width, bar.height = 20, 10
        cats.add_chart(bar, "D2")

    kids = wb.create_sheet(_("By division")[:31])
    _append(
        kids,
        [
            _("Place"),
            labels["received"],
            labels["closed"],
            labels["open"],
            labels["overdue_open"],
            *(labels[k] for k in RATE_NAMES),
        ],
    )
    for row in figures["children"]:
        _append(
            kids,
            [
                row["name"],
                row["received"],
                row["closed"],
                row["open"],
                row["overdue_open"],
                *(row[k] for k in RATE_NAMES),
            ],
        )
    _xlsx_format(kids, XLSX_RATE, columns=range(6, 6 + len(RATE_NAMES)))
    if figures["children"]:
        bar = BarChart()
        bar.title = _("Received by division")
        bar.add_data(
            Reference(kids, min_col=2, min_row=1, max_row=len(figures["children"]) + 1), titles_from_data=True
        )
        bar.set_categories(Reference(kids, min_col=1, min_row=2, max_row=len(figures["children"]) + 1))
        bar.width, bar.height = 24, 10
        kids.add_chart(bar, "K2")

    units = wb.create_sheet(_("Handling units")[:31])
    _append(
        units,
        [_("Unit"), _("Dispatched"), labels["closed"], labels["overdue"], *(labels[k] for k in RATE_NAMES)],
    )
    for row in figures["units"]:
        _append(
            units,
            [row["name"], row["dispatched"], row["closed"], row["overdue"], *(row[k] for k in RATE_NAMES)],
        )
    _xlsx_format(units, XLSX_RATE, columns=range(5, 5 + len(RATE_NAMES)))

    disputes = figures.get("disputes")
    if disputes is not None:
        sheet = wb.create_sheet(_("Disputes")[:31])
        _append(sheet, [_("Disputes"), _("Value")])
        for position, (label, value, _text) in enumerate(_dispute_rows(disputes)):
            _append(sheet, [label, value])
            if position >= len(DISPUTE_COUNTS):  # the rates, then the amounts
                rate = position < len(DISPUTE_COUNTS) + len(DISPUTE_RATES)
                _xlsx_format(sheet, XLSX_RATE if rate else XLSX_AMOUNT, row=sheet.max_row, columns=[2])
        if note := _dispute_note(disputes):
            _append(sheet, [])
            _append(sheet, [note])
        bar = BarChart()
        bar.type = "bar"
        bar.title = _("Disputes")
        bar.add_data(
            Reference(sheet, min_col=2, min_row=1, max_row=1 + len(DISPUTE_COUNTS)), titles_from_data=True
        )
        bar.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=1 + len(DISPUTE_COUNTS)))
        bar.width, bar.height = 20, 10
        sheet.add_chart(bar, "D2")

    index = wb.create_sheet(_("Governance index")[:31])
    _append(
        index,
        [_("Month"), _("Level"), _("Place"), _("Score"), _("Rank"), _("Standing"), _("Tickets due to close")],
    )
    for row in figures["index"]:
        _append(
            index,
            [
                row.month.strftime("%Y-%m"),
                _level_name(row.level),
                row.division.name,
                row.score,
                _index_rank(row),
                row.get_standing_display(),
                row.volume,
            ],
        )
    _xlsx_format(index, XLSX_SCORE, columns=[4])
    if figures["index"]:
        _append(index, [])
        _append(index, [_index_note()])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _category_name(name: str) -> str:
    """A category's name in the files: "parent · leaf" (``selectors.breakdown`` names a catch-all
    leaf after its parent) once when both are the same word ("其他 · 其他" was "其他  其他")."""
    parent, dot, leaf = name.partition(" · ")
    return leaf if dot and parent == leaf else name


def _count_scale(values) -> tuple[int, int]:
    """``(top, step)`` of an axis of counts: whole-number ticks (a step of 1, 2, 5, 10, 20, …; at
    most about six of them) up to a multiple of the step at or above the largest count. All counts
    0 (an empty period): 0 to 5. reportlab's own scale ran 0, 0.002 … 0.01 and 0.5, 1.5."""
    top = max((v for v in values if v is not None), default=0)
    top = max(math.ceil(top), 0)
    if top == 0:
        return 5, 1
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, round(step))
    return math.ceil(top / step) * step, step


def _count_axis(axis, values) -> None:
    """Scale a chart's value axis of counts (``_count_scale``), labelled as integers."""
    top, step = _count_scale(values)
    axis.valueMin, axis.valueMax, axis.valueStep = 0, top, step
    axis.labelTextFormat = "%d"


#: At most this many day labels under the trend chart (a quarter's 92 were a black smear).
TREND_LABELS = 16


def _trend_label_names(days: list[date]) -> list[str]:
    """The trend chart's category labels: every Nth day ("MM-DD"), blank between, so that at most
    ``TREND_LABELS`` are printed; the first day always has its label."""
    every = max(1, math.ceil(len(days) / TREND_LABELS))
    return [day.strftime("%m-%d") if i % every == 0 else "" for i, day in enumerate(days)]


def _trend_drawing(trend: list[dict], labels: dict, font: str):
    """The PDF's trend chart: received and closed a day, from 0, on whole-number ticks."""
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(480, 180)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 40, 30, 420, 130
    chart.data = [[r["received"] for r in trend], [r["closed"] for r in trend]]
    chart.categoryAxis.categoryNames = _trend_label_names([r["period"] for r in trend])
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 45
    chart.categoryAxis.labels.boxAnchor = "ne"
    _count_axis(chart.valueAxis, chart.data[0] + chart.data[1])
    chart.lines[0].strokeColor = colors.HexColor("#1f4e79")
    chart.lines[1].strokeColor = colors.HexColor("#2e7d32")
    drawing.add(chart)
    for x, key, color in ((45, "received", "#1f4e79"), (140, "closed", "#2e7d32")):
        drawing.add(
            String(x, 168, f"— {labels[key]}", fontName=font, fontSize=7, fillColor=colors.HexColor(color))
        )
    return drawing


def _bar_drawing(names: list[str], values: list, color: str, font: str):
    """A horizontal bar chart of counts, the first name at the top, on whole-number ticks."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    drawing = Drawing(480, 30 + 16 * len(names))
    bar = HorizontalBarChart()
    bar.x, bar.y, bar.width, bar.height = 150, 20, 300, 16 * len(names)
    bar.data = [list(reversed(values))]
    bar.categoryAxis.categoryNames = [name[:16] for name in reversed(names)]
    bar.categoryAxis.labels.fontName = font
    bar.categoryAxis.labels.fontSize = 7
    _count_axis(bar.valueAxis, values)
    bar.bars[0].fillColor = colors.HexColor(color)
    drawing.add(bar)
    return drawing


#: A heading kept with the start of a table that may run on over the pages: room for the heading
#: and about this many points of the table (its header and three rows), else a new page.
HEADING_WITH_ROWS = 26 + 4 * 16


def _with_heading(heading, flowable, *, runs_on: bool = False) -> list:
    """A heading and what it is the heading of, never parted by a page break (a heading alone at
    the foot of a page, its chart on the next). A chart or a short table moves with its heading
    (``KeepTogether``); a table that may run on over the pages starts on the heading's page when
    there is room for its first rows (``CondPageBreak``), a new page otherwise — kept together,
    a long table would always start on a new page."""
    from reportlab.platypus import CondPageBreak, KeepTogether

    if runs_on:
        return [CondPageBreak(HEADING_WITH_ROWS), heading, flowable]
    return [KeepTogether([heading, flowable])]


def pdf_story(report: Report, figures: dict) -> list:
    """The PDF's flowables, in order (``build_pdf`` lays them out)."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    # embedded where the machine has a Chinese TrueType font (a report is sent upward and filed)
    font = pdf_font().name
    labels = _labels(ended=figures.get("until") is None)
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=22)
    # kept with what follows by ``_with_heading``, not the style's keepWithNext: that would keep a
    # heading with a whole long table, which would then always start on a new page
    heading = ParagraphStyle("h", fontName=font, fontSize=12, leading=18, spaceBefore=8)
    body = ParagraphStyle("b", fontName=font, fontSize=9, leading=12)
    # an explanation under a table: a gap above it (flush against the table it read as a row)
    note = ParagraphStyle("n", parent=body, spaceBefore=6)
    table_style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ]
    )

    def fmt(value):
        """A count as it is, a rate (a fraction, 0–1) as a percentage; scores go through ``_score_text``."""
        return "—" if value is None else (f"{value:.1%}" if isinstance(value, float) else str(value))

    s = figures["summary"]
    until = figures.get("until")
    story = [
        Paragraph(_title(report, until), title),
        Paragraph(_period_line(report), body),
    ]
    if until is not None:
        story.append(Paragraph(_partial_note(report, until), body))
    story.append(Spacer(1, 8))
    rows = [[labels[k], fmt(s.flows.get(k, 0))] for k in ("received", "closed", "reopened", "rated")]
    rows += [[labels[k], fmt(s.stocks.get(k, 0))] for k in ("open", "overdue_open")]
    rows += [[labels[k], fmt(s.rates.get(k))] for k in RATE_NAMES]
    story += _with_heading(
        Paragraph(pgettext("report", "Summary"), heading), Table(rows, style=table_style, hAlign="LEFT")
    )
    story.append(Paragraph(_on_time_note(), note))

    trend = figures["trend"]
    if trend:
        story += _with_heading(Paragraph(_("Volume and trend"), heading), _trend_drawing(trend, labels, font))

    cats = figures["categories"]
    if cats:
        chart = _bar_drawing(
            [_category_name(c["name"]) for c in cats], [c["value"] for c in cats], "#d7301f", font
        )
        story += _with_heading(Paragraph(_("Top categories"), heading), chart)

    if figures["children"]:
        head = [
            _("Place"),
            labels["received"],
            labels["closed"],
            labels["open"],
            labels["overdue_open"],
            labels["on_time_rate"],
            labels["satisfaction_rate"],
        ]
        data = [head] + [
            [
                c["name"],
                c["received"],
                c["closed"],
                c["open"],
                c["overdue_open"],
                fmt(c["on_time_rate"]),
                fmt(c["satisfaction_rate"]),
            ]
            for c in figures["children"]  # every row: the table runs on over the pages
        ]
        story += _with_heading(
            Paragraph(_("By division"), heading),
            Table(data, style=table_style, repeatRows=1, hAlign="LEFT"),
            runs_on=True,
        )
    disputes = figures.get("disputes")
    if disputes is not None:
        # the table alone: a bar chart of its eight counts said nothing the table does not (the
        # same numbers, most of them 0–2 in a month) and set side by side figures that are not
        # parts of one whole (cases received, still open, red risk …)
        table = Table(
            [[label, text] for label, _value, text in _dispute_rows(disputes)],
            style=table_style,
            hAlign="LEFT",
        )
        story += _with_heading(Paragraph(_("Disputes"), heading), table)
        if dispute_note := _dispute_note(disputes):
            story.append(Paragraph(dispute_note, note))
    if figures["index"]:
        tied = figures.get("index_tied", set())
        data = [[_("Month"), _("Level"), _("Place"), _("Score"), _("Rank"), _("Standing")]] + [
            [
                r.month.strftime("%Y-%m"),
                _level_name(r.level),
                r.division.name,
                _score_text(r.score),
                _pdf_rank(r, tied),
                str(r.get_standing_display()),
            ]
            # every row, as in the Excel file: the table runs on over the pages, its header repeated
            for r in figures["index"]
        ]
        story += _with_heading(
            Paragraph(_("Governance index"), heading),
            Table(data, style=table_style, repeatRows=1, hAlign="LEFT"),
            runs_on=True,
        )
        story.append(Paragraph(_index_note(), note))
    return story


def build_pdf(report: Report, figures: dict) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    out = io.BytesIO()
    story = pdf_story(report, figures)
    SimpleDocTemplate(out, pagesize=A4, title=_title(report, figures.get("until"))).build(story)
    return out.getvalue()
