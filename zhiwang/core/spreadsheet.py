"""Cells for spreadsheets that people open: text stays text, never a formula.

Exports carry text typed by citizens, parties and other departments (names, facts, addresses).
Opened in Excel or WPS, a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return before one) is read as a formula, and a formula can call out to the network with
the row's other cells — phone and ID numbers in a full export (OWASP "CSV injection"). In an
``.xlsx`` file written with openpyxl the danger is ours, not the reader's: openpyxl stores any
string that starts with ``=`` as a formula.

* ``csv_cell`` prefixes such text with an apostrophe, which spreadsheets show as plain text (the
  usual defence; the apostrophe is visible in a text editor, which is the price).
* ``xlsx_cell`` / ``xlsx_row`` keep the text exactly and store it typed as a string, so nothing
  is added to what the reader sees.

Files written back to the person who supplied them (a command's output beside its own input)
need only the ``.xlsx`` rule: their CSV text is the user's own.
"""

from __future__ import annotations

from collections.abc import Iterable

# A leading tab or carriage return is stripped by some spreadsheets before they look for "=".
FORMULA_STARTS = frozenset("=+-@\t\r")


def csv_cell(value: object) -> object:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula gets a leading '."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def csv_row(values: Iterable[object]) -> list[object]:
    """``csv_cell`` over a row."""
    return [csv_cell(v) for v in values]


def xlsx_cell(sheet, value: object) -> object:
    """``value`` for ``sheet.append``: text starting with ``=`` becomes a cell typed as text.

    Works for ordinary and write-only worksheets (a ``WriteOnlyCell`` belongs to ``sheet``).
    Other values pass through unchanged, so numbers and dates keep their types.
    """
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"  # openpyxl typed it "f" (formula) on assignment
        return cell
    return value


def xlsx_row(sheet, values: Iterable[object]) -> list[object]:
    """``xlsx_cell`` over a row, ready for ``sheet.append``."""
    return [xlsx_cell(sheet, v) for v in values]
