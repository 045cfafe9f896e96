"""Migration analytics 0008 (issue 5): the ids alerts kept in their JSON column (at most 200 each)
become membership rows (``AlertTicket``), and go back to the column backwards.

A transactional test (the migration changes tables): pytest-django empties every table after it.
It lives in its own file so that it runs after tests/analytics/test_index_review.py's
transactional test, which needs the demo city and does not rebuild it (``city_restored``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.analytics.test_alert_membership import clone
from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("analytics", "0007_alert_resolved")]
AFTER = [("analytics", "0008_alert_tickets")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_ids_alerts_kept(city_restored, make_ticket):
    """Each alert's stored ids become its rows (a deleted ticket's id, a repeated id and a value
    that is no id are left out); backwards, the rows go back to the list."""
    first = make_ticket(external_id="m-0")
    ids = sorted([first.pk, *clone(first, 229, "m")])
    other = make_ticket(external_id="m-1")
    gone = max(ids + [other.pk]) + 10_000
    apps = migrate_to(BEFORE)
    try:
        OldAlert = apps.get_model("analytics", "Alert")
        now = timezone.now()
        common = {"window_start": now - timedelta(days=3), "window_end": now, "explanation": "x"}
        big = OldAlert.objects.create(kind="repeat_caller", key="caller:m", ticket_ids=ids, **common)
        odd = OldAlert.objects.create(
            kind="topic_cluster", key="topic:m", ticket_ids=[other.pk, other.pk, gone, "x"], **common
        )
        empty = OldAlert.objects.create(kind="surge", key="surge:m", ticket_ids=[], **common)
        apps = migrate_to(AFTER)
        Membership = apps.get_model("analytics", "AlertTicket")

        def members(alert):
            return sorted(Membership.objects.filter(alert_id=alert.pk).values_list("ticket_id", flat=True))

        assert members(big) == ids and len(ids) == 230
        assert members(odd) == [other.pk]
        assert members(empty) == []
        apps = migrate_to(BEFORE)  # backwards: the list again, every id
        OldAlert = apps.get_model("analytics", "Alert")
        assert OldAlert.objects.get(pk=big.pk).ticket_ids == ids
        assert OldAlert.objects.get(pk=odd.pk).ticket_ids == [other.pk]
    finally:
        migrate_to_latest()
