"""The printable documents: the agreement 调解协议书 (PDF and Word) and the ledger workbook (Excel).

Each takes what a selector returned and whether the caller may see personal data in full
(``reveal``); without it names, ID numbers and phones come out masked, as on screen.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.core.pdf_fonts import pdf_font
from zhiwang.core.spreadsheet import xlsx_cell, xlsx_row
from zhiwang.disputes.models import (
    ConfirmationStatus,
    DisputeCase,
    PartyRole,
    PerformanceStatus,
    RiskColour,
)
from zhiwang.disputes.selectors import mask_party_data, period_overdue, period_status_label, period_target


def _chinese() -> bool:
    return (translation.get_language() or "").lower().startswith("zh")


def _colon() -> str:
    """The colon after a heading: full-width in a Chinese document ("申请人："), ": " otherwise."""
    return "：" if _chinese() else ": "


def _comma() -> str:
    """The comma between a party's details: full-width in a Chinese document, ", " otherwise."""
    return "，" if _chinese() else ", "


def _labelled(label: str, text: str) -> str:
    return f"{label}{_colon()}{text}"


def _signatory(user) -> str:
    """The name printed on the mediator's signature line: the person's name without the role word
    some accounts carry in front of it ("调解员 周芳" under "调解员（签名）" printed the role twice)."""
    if user is None:
        return ""
    from zhiwang.accounts.models import Role

    name = user.display_name.strip()
    roles = {Role.MEDIATOR} | ({Role(user.role)} if user.role in Role.values else set())
    words = set()
    for language in (translation.get_language() or "zh-hans", "zh-hans", "en"):
        with translation.override(language):
            words |= {str(role.label) for role in roles}
    for word in sorted(words, key=len, reverse=True):
        if name.lower().startswith(word.lower()):
            rest = name[len(word) :].lstrip(" \u3000:：·-")
            if rest and len(rest) < len(name) - len(word):  # the role word stood apart from the name
                return rest
    return name


def _party_lines(case: DisputeCase, reveal: bool) -> list[tuple[str, str]]:
    lines = []
    for party in case.parties.order_by("role", "pk"):
        name = party.name if reveal else party.masked_name
        identifier = party.identifier if reveal else party.masked_identifier
        phone = party.phone if reveal else party.masked_phone
        label = _("Unified social credit code") if party.kind == "entity" else _("ID number")
        details = [name]
        if identifier:
            details.append(_labelled(label, identifier))
        if phone:
            details.append(_labelled(_("Phone"), phone))
        address = party.address if reveal else party.masked_address
        representative = party.representative if reveal else party.masked_representative
        if address:
            details.append(_labelled(_("Address"), address))
        if representative:
            details.append(_labelled(_("Representative"), representative))
        lines.append((str(PartyRole(party.role).label), _comma().join(details)))
    return lines


def agreement_sections(case: DisputeCase, *, reveal: bool) -> list[tuple[str, str]]:
    """(heading, text) pairs of the 调解协议书, shared by the PDF and the Word version."""
    agreement = case.agreement
    sections = [(role, text) for role, text in _party_lines(case, reveal)]
    if reveal:
        free = lambda text: text  # noqa: E731
    else:
        # Facts and terms are typed freely and often repeat a party's name, phone or ID number.
        parties = list(case.parties.order_by("role", "pk"))
        free = lambda text: mask_party_data(text, parties)  # noqa: E731
    sections += [
        (_("Facts and points in dispute"), free(agreement.facts)),
        (_("Terms agreed"), free(agreement.terms)),
        *([(_("Amount agreed (yuan)"), f"{agreement.amount:,.2f}")] if agreement.amount else []),
        (_("Manner of performance"), free(agreement.performance_manner)),
        (_("Performance deadline"), agreement.performance_deadline.isoformat()),
        (
            _("Judicial confirmation"),
            _(
                "The parties may jointly apply to the people's court for judicial confirmation within 30 days "
                "from the date this agreement takes effect."
            ),
        ),
        (
            _("Effect"),
            _(
                "This agreement is legally binding once signed or sealed by the parties and the mediator "
                "and sealed by the mediation organisation; the parties shall perform it as agreed."
            ),
        ),
    ]
    return sections


def _title(case: DisputeCase) -> str:
    return _("People's mediation agreement") if case.mediation_type == "peoples" else _("Mediation agreement")


def _signature_lines(case: DisputeCase) -> list[str]:
    """The lines under the agreement: the parties', the mediator's and the organisation's, the date."""
    return [
        _labelled(_("Parties (signature)"), "____________    ____________"),
        _labelled(_("Mediator (signature)"), _signatory(case.mediator)),
        _labelled(_("Mediation organisation (seal)"), case.organisation.name if case.organisation else ""),
        _labelled(_("Signed on"), case.agreement.signed_on.isoformat()),
    ]


def agreement_pdf(case: DisputeCase, *, reveal: bool) -> bytes:
    """The agreement as a PDF (A4; the Chinese font embedded where the machine has one, see core.pdf_fonts)."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font = pdf_font().name
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=18, wordWrap="CJK")
    head = ParagraphStyle("head", parent=body, fontSize=18, leading=26, alignment=1, spaceAfter=6)
    small = ParagraphStyle("small", parent=body, fontSize=9, alignment=2)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{_title(case)} {case.agreement.number}",
    )
    agreement = case.agreement
    story = [
        Paragraph(escape(_title(case)), head),
        Paragraph(escape(_("No.") + " " + agreement.number), small),
        Spacer(1, 6 * mm),
    ]
    for heading, text in agreement_sections(case, reveal=reveal):
        story.append(
            Paragraph(f"<b>{escape(heading)}</b>{_colon()}{escape(text).replace(chr(10), '<br/>')}", body)
        )
        story.append(Spacer(1, 2 * mm))
    story += [
        Spacer(1, 10 * mm),
        *(Paragraph(escape(line), body) for line in _signature_lines(case)),
    ]
    doc.build(story)
    return buffer.getvalue()


def agreement_docx(case: DisputeCase, *, reveal: bool) -> bytes:
    """The agreement as a Word document (to edit before printing)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    style = document.styles["Normal"]
    style.font.name = "SimSun"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    style.font.size = Pt(11)
    agreement = case.agreement
    title = document.add_heading(_title(case), level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    number = document.add_paragraph(_("No.") + " " + agreement.number)
    number.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for heading, text in agreement_sections(case, reveal=reveal):
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{heading}{_colon()}").bold = True
        paragraph.add_run(text)
    document.add_paragraph("")
    for line in _signature_lines(case):
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- the ledger workbook -------------------------------------------------------------------


def ledger_columns(*, period_ended: bool = False) -> list[tuple[str, int]]:
    """(header, width) of the usual 矛盾纠纷排查化解台账 layout; the amount, risk and status headed as
    at the period's end when ``period_ended`` (the rows then carry them as of that moment), in the
    words of the ledger page's figures and list."""
    if period_ended:
        amount, risk = (
            _("Amount involved at the end of the period (yuan)"),
            _("Risk at the end of the period"),
        )
        status = _("Status at the end of the period")
    else:
        amount, risk, status = _("Amount involved (yuan)"), _("Risk"), _("Status")
    return [
        (_("No."), 6),
        (_("Case number"), 18),
        (_("Received on"), 12),
        (_("Source"), 14),
        (pgettext("dispute", "Category"), 12),
        (_("Facts"), 40),
        (_("Applicant"), 14),
        (_("Respondent"), 14),
        (_("Contact phone"), 15),
        (_("People involved"), 8),
        (amount, 12),
        (risk, 8),
        (_("Division"), 16),
        (_("Mediation organisation"), 22),
        (_("Mediator"), 10),
        (status, 10),
        (_("Target date"), 12),
        (_("Outcome"), 12),
        (_("Agreement"), 10),
        (_("Judicial confirmation"), 12),
        (_("Performance"), 10),
        (_("Closed on"), 12),
    ]


def _date(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value)
    return value.isoformat()


def ledger_workbook(
    cases, *, reveal: bool, title: str, as_of: datetime | None = None, now: datetime | None = None
) -> bytes:
    """The ledger as an .xlsx: a title row, the header, one row per case (masked unless ``reveal``).

    ``as_of``: the end of the filters' period when it has ended (``selectors.status_as_of``). The
    cases then come from ``selectors.ledger_export_rows``, whose ``period_status`` / ``period_risk`` /
    ``period_amount`` are written instead of the current values, under headers that say so, and the
    line under the title names the period's last day. A case closed after it (open at the end) keeps
    its closing date and outcome, marked "(after the period)" and in grey: the ledger of October
    says a case was open then and that it was closed on 1 November, not that it closed in October.
    The agreement, judicial confirmation and performance columns alike (``period_agreement_later``,
    ``period_confirmation``, ``period_performance``): the value at the end, and a later one marked
    "(after the period)" after it ("Applied for; Confirmed by the court (after the period)"); an
    agreement recorded after the end is written only so, in grey, like a later closing. The target
    date is the one the case had at the end (``selectors.period_target``; an extension after it
    follows in the page's words, "2026-12-24; Extended to 2027-01-10, after the period"), in red
    when it was overdue then (``selectors.period_overdue``; without an ended period: overdue at
    ``now``, as the list marks it). A referral after the end follows the status at the end the same
    way ("Being mediated; Referred on 2026-11-19, after the period"), and so does an assignment
    after it the organisation and mediator the case had at the end (``_assignment_cells``)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    now = now or timezone.now()
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Ledger")[:31]
    columns = ledger_columns(period_ended=as_of is not None)
    # Every cell goes through ``core.spreadsheet`` (text never becomes a formula), ours included.
    sheet.append([xlsx_cell(sheet, title)])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    exported = _("Exported at") + f": {timezone.localtime():%Y-%m-%d %H:%M}"
    exported += "" if reveal else "  (" + _("personal data masked") + ")"
    if as_of is not None:  # the period's end is exclusive: its last day is the day before
        last_day = timezone.localdate(as_of - timedelta(microseconds=1))
        exported += "  " + _(
            "Status, risk, amount, organisation, mediator, target date, agreement, judicial "
            "confirmation and performance as of the end of %(day)s; a target date in red was overdue "
            "then; “(after the period)”: recorded after that day."
        ) % {"day": last_day.isoformat()}
    sheet.append([xlsx_cell(sheet, exported)])
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    sheet.append(xlsx_row(sheet, [header for header, _width in columns]))
    for index, ((_header, width), cell) in enumerate(zip(columns, sheet[3], strict=True), start=1):
        cell.font = Font(bold=True)
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(index)].width = width
    row_number = 3
    headers = [header for header, _width in columns]

    def column(header: str) -> int:  # 1-based
        return headers.index(header) + 1

    target_column = column(_("Target date"))
    grey = Font(color="FF808080")
    red = Font(color="FFC62828", bold=True)  # the list's ``.overdue``
    for position, case in enumerate(cases, start=1):
        parties = list(case.parties.all())
        applicants = [p for p in parties if p.role == PartyRole.APPLICANT]
        respondents = [p for p in parties if p.role == PartyRole.RESPONDENT]

        def names(group):
            return "、".join(p.name if reveal else p.masked_name for p in group)

        phones = "、".join((p.phone if reveal else p.masked_phone) for p in applicants if p.phone)
        agreement = getattr(case, "agreement", None) if _has_agreement(case) else None
        # a closing (its date and outcome) after the period's end: kept, but marked as after it
        later = as_of is not None and case.closed_at is not None and case.closed_at >= as_of
        status = case.get_status_display()
        if as_of is not None:
            status = period_status_label(getattr(case, "period_status", case.status))
            if case.referral_kind and case.referred_at is not None and case.referred_at >= as_of:
                # referred after the end (open then): said as the page's row says it
                later_referral = _("Referred on %(day)s, after the period") % {"day": _date(case.referred_at)}
                status = _("%(then)s; %(later)s") % {"then": status, "later": later_referral}
        outcome = case.get_outcome_display() if case.outcome else ""
        closed_on = _date(case.closed_at)
        # the columns (1-based) whose whole value is after the period: in grey
        after = set()
        if later:
            outcome = _after_the_period(outcome) if outcome else ""
            closed_on = _after_the_period(closed_on)
            after |= {column(_("Outcome")), column(_("Closed on"))}
        target = _date(case.target_at)
        if as_of is not None and _date(period_target(case)) != target:
            # extended after the end: the target it had then, and the extension in the page's words
            extended = _("Extended to %(day)s, after the period") % {"day": target}
            target = _("%(then)s; %(later)s") % {"then": _date(period_target(case)), "later": extended}
        assignment_cells = _assignment_cells(case, as_of)
        for header, (_text, all_later) in zip(
            (_("Mediation organisation"), _("Mediator")), assignment_cells, strict=True
        ):
            if all_later:
                after.add(column(header))
        agreement_cells = _agreement_cells(case, agreement, as_of)
        for header, (_text, all_later) in zip(
            (_("Agreement"), _("Judicial confirmation"), _("Performance")), agreement_cells, strict=True
        ):
            if all_later:
                after.add(column(header))
        values = [
            position,
            case.number,
            _date(case.received_at),
            case.get_source_display(),
            case.category.name,
            case.facts,
            names(applicants),
            names(respondents),
            phones,
            case.people_involved,
            float(getattr(case, "period_amount", case.amount)),
            _risk_label(getattr(case, "period_risk", case.risk)),
            case.division.name,
            *(text for text, _all_later in assignment_cells),
            status,
            target,
            outcome,
            *(text for text, _all_later in agreement_cells),
            closed_on,
        ]
        row_number += 1
        # Names and facts are typed by people: openpyxl would store "=…" as a formula, which in
        # the full export could send the row's phones and ID numbers anywhere. Typed as text.
        sheet.append(xlsx_row(sheet, values))
        overdue = period_overdue(case, as_of=as_of, now=now)
        for number, cell in enumerate(sheet[row_number], start=1):
            cell.border = border
            cell.alignment = Alignment(vertical="top", wrap_text=number == 6)
            if number in after:
                cell.font = grey
            elif number == target_column and overdue:
                cell.font = red
    sheet.freeze_panes = "C4"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _assignment_cells(case: DisputeCase, as_of: datetime | None) -> list[tuple[str, bool]]:
    """The mediation organisation and mediator cells of a ledger row: (text, whether all of it is
    after the period).

    Without ``as_of``, today's. With it, the ones the case had at the period's end
    (``period_organisation`` / ``period_mediator``, ``selectors.period_assignments_attach``), and
    today's, when another, after them in the page's words ("Committee A; Assigned to Committee B,
    after the period"); a case unassigned at the end has only the later one, wholly after the
    period (in grey)."""

    def organisation_name(value) -> str:
        return value.name if value is not None else ""

    def mediator_name(value) -> str:
        return value.display_name if value is not None else ""

    cells = []
    for name, words in (("organisation", organisation_name), ("mediator", mediator_name)):
        now = words(getattr(case, name))
        if as_of is None or not hasattr(case, f"period_{name}"):
            cells.append((now, False))
            continue
        then = words(getattr(case, f"period_{name}"))
        if then == now or not now:
            cells.append((then, False))
            continue
        later = _("Assigned to %(name)s, after the period") % {"name": now}
        cells.append((_("%(then)s; %(later)s") % {"then": then, "later": later} if then else later, not then))
    return cells


def _agreement_cells(case: DisputeCase, agreement, as_of: datetime | None) -> list[tuple[str, bool]]:
    """The agreement, judicial confirmation and performance cells of a ledger row: (text, whether
    all of it is after the period).

    Without ``as_of``, today's values. With it, each as at the period's end (the annotations of
    ``selectors.ledger_export_rows``), followed by today's value marked "(after the period)" when
    that differs: an agreement recorded after the end did not exist then, so its three cells are
    wholly after the period."""
    if agreement is None:
        return [("", False)] * 3
    form = agreement.get_form_display()
    confirmation = _confirmation_label(agreement.confirmation_status)
    performance = agreement.get_performance_status_display()
    if as_of is None:
        return [(form, False), (confirmation, False), (performance, False)]
    if getattr(case, "period_agreement_later", False):
        return [
            (_after_the_period(text), True) if text else ("", False)
            for text in (form, confirmation, performance)
        ]
    confirmation_then = _confirmation_label(
        getattr(case, "period_confirmation", agreement.confirmation_status)
    )
    performance_then = str(
        PerformanceStatus(getattr(case, "period_performance", agreement.performance_status)).label
    )
    return [
        (form, False),
        (_then_and_later(confirmation_then, confirmation), not confirmation_then and bool(confirmation)),
        (_then_and_later(performance_then, performance), False),
    ]


def _confirmation_label(status: str) -> str:
    """A judicial confirmation status in words; "" when not applied for (an empty cell, as before)."""
    return str(ConfirmationStatus(status).label) if status else ""


def _then_and_later(then: str, now: str) -> str:
    """A ledger cell of an ended period: the value at its end, and today's marked "(after the
    period)" after it when it changed since ("2026-10-20; 2026-11-20 (after the period)")."""
    if now == then or not now:
        return then
    if not then:
        return _after_the_period(now)
    return _("%(then)s; %(later)s") % {"then": then, "later": _after_the_period(now)}


def _after_the_period(value: str) -> str:
    """A value written after the period's end ("2026-11-01（期后）")."""
    return _("%(value)s (after the period)") % {"value": value}


def _risk_label(risk: str) -> str:
    return str(dict(RiskColour.choices).get(risk, risk))


def _has_agreement(case: DisputeCase) -> bool:
    try:
        case.agreement  # noqa: B018 - a reverse one-to-one raises when absent
    except DisputeCase.agreement.RelatedObjectDoesNotExist:
        return False
    return True
