"""Figures as the platform's pages print them: one rule for every app's dashboards and ledgers.

A rate (0–1) is a percentage with one decimal and no space ("50.0%"); an amount in yuan has its
thousands separated by commas and two decimals ("460,000.00": Django's zh-hans number format has
no thousand separator); "—" where there is no figure (nothing to divide by, not a number). The
template filters of analytics and disputes call these, so a figure reads the same on the
dashboard and in the ledger it links to.
"""

from __future__ import annotations

import math


def as_number(value) -> float | None:
    """``value`` as a float, or ``None`` when it is empty, not a number or NaN."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def percent_text(value) -> str:
    """A rate (0–1) as "72.0%"; "—" when there is none."""
    number = as_number(value)
    return "—" if number is None else f"{number * 100:.1f}%"


def yuan_text(value) -> str:
    """An amount in yuan as "451,000.00"; "—" when it is not a number."""
    number = as_number(value)
    return "—" if number is None else f"{number:,.2f}"
