"""The default category catalogue and default time limits (loaded on migrate, editable in the admin).

The tree is derived from a real three-level classification of citizen messages
(15 top-level areas) plus grid-incident categories with per-category limits in the
practice of GB/T 30428 (e.g. exposed rubbish 4 working hours, illegal structures
15 working days). Loading is an idempotent upsert by code: an administrator's
edits to names and limits of existing codes are kept.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

DEFAULT_CATALOGUE = Path(__file__).resolve().parent / "data" / "default_catalogue.csv"

#: Guangdong rules (DOMAIN.md): inquiry 2 working days; help and suggestion 10; complaint and report 15;
#: urgent items 2 working hours.
DEFAULT_KIND_LIMITS = [
    ("inquiry", "normal", 2, "working_days"),
    ("help", "normal", 10, "working_days"),
    ("suggestion", "normal", 10, "working_days"),
    ("praise", "normal", 10, "working_days"),
    ("complaint", "normal", 15, "working_days"),
    ("report", "normal", 15, "working_days"),
    ("incident", "normal", 5, "working_days"),
    ("inquiry", "urgent", 2, "working_hours"),
    ("help", "urgent", 2, "working_hours"),
    ("complaint", "urgent", 2, "working_hours"),
    ("report", "urgent", 2, "working_hours"),
    ("incident", "urgent", 2, "working_hours"),
]


def load_catalogue(*, Category, KindDeadline, path: Path = DEFAULT_CATALOGUE) -> dict[str, int]:
    """Create missing categories and default limits; keep existing rows as administrators left them."""
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    existing = {c.code: c for c in Category.objects.all()}
    created = 0
    for order, row in enumerate(rows):
        if row["code"] in existing:
            continue
        category = Category.objects.create(
            code=row["code"],
            name=row["name"],
            parent=existing.get(row["parent_code"]) if row["parent_code"] else None,
            deadline_amount=Decimal(row["deadline_amount"]) if row["deadline_amount"] else None,
            deadline_unit=row["deadline_unit"],
            urgent_deadline_amount=Decimal(row["urgent_deadline_amount"])
            if row["urgent_deadline_amount"]
            else None,
            urgent_deadline_unit=row["urgent_deadline_unit"],
            requires_verification=row["requires_verification"] == "1",
            keywords=row["keywords"],
            kinds=[k for k in row["kinds"].split(",") if k],
            sort_order=order,
        )
        existing[category.code] = category
        created += 1
    limits = 0
    for kind, urgency, amount, unit in DEFAULT_KIND_LIMITS:
        _row, made = KindDeadline.objects.get_or_create(
            kind=kind, urgency=urgency, defaults={"amount": Decimal(amount), "unit": unit}
        )
        limits += made
    return {"categories": created, "limits": limits}
