"""Migration analytics 0010: formulas get a minimum volume (default 5) from their next computation;
months already computed keep the rule they were ranked by, which had no minimum (``min_volume: 0``
in their copy of the formula).

A transactional test (the migration changes tables) in its own file, like
test_migration_alert_tickets.py: pytest-django empties every table after it.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("analytics", "0009_indicator_figures")]
AFTER = [("analytics", "0010_index_min_volume")]


@pytest.mark.django_db(transaction=True)
def test_past_months_keep_ranking_without_a_minimum(city_restored):
    apps = migrate_to(BEFORE)
    try:
        Division = apps.get_model("geo", "Division")
        first, second = Division.objects.filter(level="subdistrict").order_by("code")[:2]
        OldFormula = apps.get_model("analytics", "IndexFormula")
        OldIndex = apps.get_model("analytics", "GovernanceIndex")
        formula = OldFormula.objects.create(name="old", weights={"on_time_closure_rate": 1})
        kept = {"name": "old", "weights": {"on_time_closure_rate": 1}, "red_count": 3}
        scored = OldIndex.objects.create(
            month=date(2026, 9, 1),
            division_id=first.pk,
            level="subdistrict",
            formula=formula,
            formula_used=kept,
            score=100.0,
            rank=1,
            standing="red",
        )
        bare = OldIndex.objects.create(
            month=date(2026, 9, 1), division_id=second.pk, level="subdistrict", score=50.0, rank=2
        )
        apps = migrate_to(AFTER)
        Formula = apps.get_model("analytics", "IndexFormula")
        Index = apps.get_model("analytics", "GovernanceIndex")
        assert Formula.objects.get(pk=formula.pk).min_volume == 5
        row = Index.objects.get(pk=scored.pk)
        assert row.formula_used == {**kept, "min_volume": 0} and row.rank == 1 and row.volume is None
        assert Index.objects.get(pk=bare.pk).formula_used == {}
        migrate_to(BEFORE)  # backwards: the columns go
    finally:
        migrate_to_latest()
