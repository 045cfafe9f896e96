"""How the indicators page writes a numerator: weighted ones without trailing zeros."""

from __future__ import annotations

import pytest

from zhiwang.analytics.templatetags.analytics_tags import counted


@pytest.mark.parametrize(
    ("value", "shown"),
    [(72, "72"), (58.2, "58.2"), (58.25, "58.25"), (4055.004, "4055"), (0.0, "0"), (None, "—"), ("x", "—")],
)
def test_a_numerator_is_written_as_counted(value, shown):
    assert counted(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [(451000, "451,000.00"), (0, "0.00"), (1234.5, "1,234.50"), (None, "—")]
)
def test_an_amount_is_written_with_thousands_separated(value, shown):
    from zhiwang.analytics.templatetags.analytics_tags import yuan

    assert yuan(value) == shown
