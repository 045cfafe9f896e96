"""Migration disputes 0009: an agreement records the amount it settles; agreements made before it
take their case's amount involved (what "amount resolved" summed for them until then, so no past
figure changes).

A transactional test (the migration changes tables) in its own file: pytest-django empties every
table after it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("disputes", "0008_hashes_under_the_hash_key")]
AFTER = [("disputes", "0009_agreement_amount")]


@pytest.mark.django_db(transaction=True)
def test_earlier_agreements_take_their_cases_amount(city_restored, agreed_case, world):
    case = agreed_case(amount="3500")
    try:
        migrate_to(BEFORE)  # the column goes (backwards)
        apps = migrate_to(AFTER)
        Agreement = apps.get_model("disputes", "Agreement")
        assert Agreement.objects.get(case_id=case.pk).amount == Decimal("3500.00")
    finally:
        migrate_to_latest()
