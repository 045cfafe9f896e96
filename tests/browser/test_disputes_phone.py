# ruff: noqa: F811 (pytest fixtures imported from tests.browser.test_dispute_flows)
"""On a 390 px phone, in a real browser: a case page and the mediator's workbench fit the screen (no
page wider than the phone, which would zoom out), wide tables scroll inside their card, and each case
on the workbench shows its status and target date without a sideways scroll."""

from __future__ import annotations

import pytest

from tests.browser.test_dispute_flows import dispute_city, login, shot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 800}


def _page_overflow(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def _in_view_sideways(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1


def test_case_page_and_workbench_fit_a_phone(page, dispute_city, live_server, tmp_path):
    from zhiwang.disputes.models import DisputeCase

    # The widest case page: an agreement (with its documents and online confirmation), parties,
    # sessions and a long timeline.
    agreed = DisputeCase.objects.filter(status="agreed", organisation__isnull=False).order_by("pk").first()
    assert agreed is not None
    base = live_server.url
    login(page, base, "demo_mediator")
    page.set_viewport_size(PHONE)

    page.goto(f"{base}/disputes/cases/{agreed.number}/")
    page.get_by_test_id("agreement").wait_for()
    shot(page, tmp_path, "case-phone")
    assert _page_overflow(page) <= 1, "the case page is wider than the phone"
    parties = page.get_by_test_id("parties")
    assert _in_view_sideways(parties.locator("xpath=..")), "the parties' card leaves the screen"

    page.goto(f"{base}/disputes/workbench/")
    shot(page, tmp_path, "workbench-phone")
    assert _page_overflow(page) <= 1, "the workbench is wider than the phone"
    rows = page.get_by_test_id("case-row")
    assert rows.count() >= 2
    for index in range(min(rows.count(), 3)):
        row = rows.nth(index)
        for cell in (row.locator("td.dz-number"), row.locator("td.dz-status"), row.locator("td.dz-target")):
            assert _in_view_sideways(cell), cell
