"""The report form's period menu: recent months and quarters to choose from instead of a text box.

The menu posts the same string the text box took and the API takes (``2026-10``, ``2026-Q3``):
``services.report_period_parse`` stays the one rule for what a period is, so a value from an old
page, a script or a bookmark is read (and refused) exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

#: How far back the menu reaches (older periods can still be posted, or asked of the API).
RECENT_MONTHS = 24
RECENT_QUARTERS = 8
PERIOD_KINDS = ("month", "quarter")


@dataclass
class PeriodGroup:
    """One <optgroup> of the menu: the months or the quarters, newest first."""

    kind: str
    label: str  # the group's label in the menu
    kind_label: str  # the kind's radio button
    options: list[tuple[str, str]] = field(default_factory=list)
    default: str = ""  # the newest complete period of the kind


@dataclass
class PeriodMenu:
    kind: str  # the group shown first / the kind ticked ("month" or "quarter")
    chosen: str  # the value selected
    groups: list[PeriodGroup]


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_label(month: date) -> str:
    """``2026-10`` in English, ``2026年10月`` in Chinese (the format string is translated)."""
    return date_format(month, pgettext("month of a report period, a date format", "Y-m"))


def quarter_label(year: int, quarter: int) -> str:
    """``2026 Q3`` in English, ``2026年第3季度`` in Chinese (the indicators page's words)."""
    return _("%(year)s Q%(quarter)s") % {"year": year, "quarter": quarter}


def _unfinished(label: str) -> str:
    return _("%(period)s (not ended)") % {"period": label}


def period_kind(value: str) -> str:
    """ "quarter" for a ``YYYY-Qn`` string, else "month" (what an unreadable value falls back to)."""
    return "quarter" if "Q" in (value or "").upper() else "month"


def report_period_menu(*, today: date, chosen: str = "", kind: str = "") -> PeriodMenu:
    """The menu as of ``today``: this month and the ``RECENT_MONTHS`` before it, this quarter and the
    ``RECENT_QUARTERS`` before it, newest first; the running month and quarter say they have not
    ended (a report of them counts up to today). Nothing later than today: a period not begun is
    refused by the service.

    ``chosen``: a posted period, canonical (``report_period_parse``); kept selected, and added to
    its group when it is older than the menu reaches. Empty: the last complete month.
    ``kind``: the posted kind; when it disagrees with ``chosen`` (or is unknown) ``chosen`` wins.
    """
    this_month = date(today.year, today.month, 1)
    months = PeriodGroup(
        "month", pgettext("report period group", "Months"), pgettext("report period kind", "Monthly")
    )
    for back in range(RECENT_MONTHS + 1):
        month = _add_months(this_month, -back)
        label = month_label(month)
        months.options.append((f"{month:%Y-%m}", _unfinished(label) if back == 0 else label))
    months.default = months.options[1][0]

    quarters = PeriodGroup(
        "quarter", pgettext("report period group", "Quarters"), pgettext("report period kind", "Quarterly")
    )
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    for back in range(RECENT_QUARTERS + 1):
        start = _add_months(quarter_start, -3 * back)
        number = (start.month - 1) // 3 + 1
        label = quarter_label(start.year, number)
        quarters.options.append((f"{start.year}-Q{number}", _unfinished(label) if back == 0 else label))
    quarters.default = quarters.options[1][0]

    groups = {"month": months, "quarter": quarters}
    if chosen:
        group = groups[period_kind(chosen)]
        if not any(value == chosen for value, _label in group.options):
            group.options.append((chosen, period_label(chosen)))  # older than the menu: at the end
        kind = period_kind(chosen)
    else:
        kind = kind if kind in PERIOD_KINDS else "month"
        chosen = groups[kind].default
    return PeriodMenu(kind=kind, chosen=chosen, groups=[months, quarters])


def period_label(canonical: str) -> str:
    """A stored period (``2026-10``, ``2026-Q3``) in the menu's words, for the report list too; a
    value that is neither (an old row, a hand-made one) as it is."""
    year, _sep, rest = (canonical or "").partition("-")
    try:
        if rest.upper().startswith("Q"):
            quarter = int(rest[1:])
            if 1 <= quarter <= 4:
                return quarter_label(int(year), quarter)
        else:
            return month_label(date(int(year), int(rest), 1))
    except ValueError:
        pass
    return canonical or ""
