"""The dashboard's dispute figures of a window that has ended are read at its end
(``disputes.selectors.dispute_indicators``: the cases closed by then, their risk and amount as they
stood), not today: a red-risk success closed after the window counts neither as prevented
escalation nor in the amount resolved there. Every figure of the panel made of those cases is
named so ("Prevented escalation by the end of the period", 期末防止激化), as the disputes ledger's
tiles and the report's rows are; a window still running keeps today's names."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tests.disputes.conftest import (  # noqa: F401  (fixtures reused as they are)
    agreed_case,
    assigned_case,
    make_case,
    mediating_case,
    world,
)
from zhiwang.analytics import reports, selectors
from zhiwang.disputes.selectors import dispute_indicators

pytestmark = pytest.mark.django_db

TZ = timezone.get_fixed_timezone(8 * 60)
OCTOBER = {"start": "2025-10-01", "end": "2025-11-01"}
#: the panel's figures whose names change for an ended window, by the panel's test id
AS_OF_FIGURES = {
    "disputes-open": "open",
    "disputes-closed": "closed",
    "disputes-success-rate": "success_rate",
    "disputes-on-time-rate": "on_time_rate",
    "disputes-prevented": "prevented_escalation",
    "disputes-amount-involved": "amount_involved",
    "disputes-amount-resolved": "amount_resolved",
    "disputes-red-open": "red_open",
    "disputes-backlog-open": "backlog_open",
}


@pytest.fixture
def october(world, agreed_case):  # noqa: F811
    """Two red-risk cases of Nanshan received in October 2025, both settled: one closed on
    28 October, the other on 5 November (after the month)."""
    from zhiwang.disputes.models import DisputeCase
    from zhiwang.disputes.services import case_close

    early = agreed_case(signed_on="2025-10-10", amount="460000", risk="red")
    case_close(case=early, actor=world.mediator, outcome="success")
    late = agreed_case(signed_on="2025-10-20", amount="800", risk="red")
    case_close(case=late, actor=world.mediator, outcome="success")
    DisputeCase.objects.filter(pk=early.pk).update(closed_at=datetime(2025, 10, 28, 15, tzinfo=TZ))
    DisputeCase.objects.filter(pk=late.pk).update(closed_at=datetime(2025, 11, 5, 15, tzinfo=TZ))
    return world


def _tile(html: str, testid: str) -> tuple[str, str]:
    """(name, figure) of one tile of the disputes panel."""
    tile = html[html.index(f'data-testid="{testid}"') :]
    name = tile[tile.index("<span>") + 6 : tile.index("</span>")]
    figure = tile[tile.index("<strong>") + 8 : tile.index("</strong>")]
    return name, figure


def test_an_ended_windows_figures_are_as_of_its_end_and_named_so(client, october):
    client.force_login(october.ns_dispatcher)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("analytics:dashboard"), OCTOBER).content.decode()
    with translation.override("en"):
        ended = selectors.dispute_labels(ended=True)
        now = selectors.dispute_labels(ended=False)
    # as of 31 October: the success closed in November is still open there
    assert _tile(html, "disputes-prevented") == ("Prevented escalation by the end of the period", "1")
    assert _tile(html, "disputes-amount-resolved") == (
        "Amount resolved by the end of the period (yuan)",
        "460,000.00",
    )
    assert _tile(html, "disputes-closed")[1] == "1" and _tile(html, "disputes-open")[1] == "1"
    # today both are settled: those are not the figures the panel shows for October
    today = dispute_indicators(user=october.ns_dispatcher, division="440305000000")
    assert today["prevented_escalation"] == 2 and today["amount_resolved"] == Decimal("460800")
    # every figure read at the end says so, and none keeps today's name
    for testid, key in AS_OF_FIGURES.items():
        assert _tile(html, testid)[0] == ended[key] != now[key], testid
    assert _tile(html, "disputes-received")[0] == ended["received"] == now["received"]
    assert 'data-testid="disputes-as-of"' in html and "as of the end of 2025-10-31" in html
    # the API gives the same figures, and says they are as of the end
    body = client.get("/api/v1/analytics/disputes", {"division": "440305000000", **OCTOBER}).json()
    assert body["as_of_day"] == "2025-10-31"
    assert body["prevented_escalation"] == 1 and Decimal(body["amount_resolved"]) == Decimal("460000")


def test_the_report_names_the_figures_as_the_dashboard_does(october):
    """One function names them for both (the report of a past month reads them at its end too)."""
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for ended in (True, False):
                assert reports._dispute_labels(ended=ended) == selectors.dispute_labels(ended=ended)
            figures = selectors.dispute_figures(
                user=october.ns_dispatcher,
                place=selectors.place_for(user=october.ns_dispatcher, code="440305000000"),
                start=datetime(2025, 10, 1).date(),
                end=datetime(2025, 11, 1).date(),
            )
            rows = {label: text for label, _value, text in reports._dispute_rows(figures)}
            labels = selectors.dispute_labels(ended=True)
            assert rows[labels["prevented_escalation"]] == "1"
            assert rows[labels["amount_resolved"]] == "460,000.00"


def test_a_window_still_running_keeps_todays_names(client, october):
    client.force_login(october.ns_dispatcher)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("analytics:dashboard")).content.decode()
    assert _tile(html, "disputes-prevented")[0] == "Prevented escalation"
    assert _tile(html, "disputes-amount-resolved")[0] == "Amount resolved (yuan)"
    assert "by the end of the period" not in html[html.index('data-testid="disputes-panel"') :]
