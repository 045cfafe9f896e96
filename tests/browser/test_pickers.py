# ruff: noqa: F811 (pytest fixtures imported from tests.browser.test_ticket_flows)
"""On a 390 px phone, in a real browser: the city dispatcher finds a handling unit among the ~90 of
the queue's bulk bar by typing part of its code or name, Enter in the filter box never submits,
and the ticked ticket goes to the unit found; the report form offers months, or quarters once
"quarterly" is ticked. One city build, one test.

Strings new in this change are read through ``gettext`` (they are English until the catalogs
have them)."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext, pgettext

from tests.browser.test_ticket_flows import building, city, login, shot, submit  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 800}


def _fits(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1


def test_unit_filter_in_the_queue_and_period_menu_on_a_phone(page, building, tmp_path):
    from zhiwang.accounts.models import OrgUnit
    from zhiwang.analytics.forms import report_period_menu
    from zhiwang.tickets.models import Ticket

    ticket = submit(building)
    target = OrgUnit.objects.get(code="DEMO-GOV-440303")  # Luohu's government: not the suggested unit
    assert ticket.suggested_unit_id != target.pk
    with translation.override("zh-hans"):
        filter_label = gettext("Filter units")
        one_match = gettext("Matching units: %(count)s").replace("%(count)s", "1")
    base = page.base_url
    login(page, base, "demo_city_dispatcher")
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/dispatch/?tab=pending")

    box = page.get_by_label(filter_label, exact=True)
    select = page.locator("#bulk-unit")
    assert select.input_value() == "suggested"
    assert box.get_attribute("aria-controls") == "bulk-unit"
    # a code (any case) leaves one unit: it is chosen, and the live region says so
    box.fill("demo-gov-440303")
    assert select.input_value() == str(target.pk)
    assert select.locator("option").count() == 2  # "each ticket's suggested unit" and the match
    assert page.locator("#bulk-unit-filter-status").inner_text() == one_match
    # Enter in the box moves to the menu and sends nothing
    url = page.url
    box.press("Enter")
    assert page.evaluate("document.activeElement.id") == "bulk-unit" and page.url == url
    # the picker fits the phone, as the queue's cards do
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 1
    for part in (box, select, page.get_by_test_id("bulk-dispatch")):
        assert _fits(page, part), part
    shot(page, tmp_path, "queue-unit-filter-phone")
    # Esc empties the box and brings every unit back, the choice kept
    box.press("Escape")
    assert select.locator("option").count() > 20 and select.input_value() == str(target.pk)
    page.locator(f"input[name=tickets][value^='{ticket.number}:']").check()
    page.get_by_test_id("bulk-dispatch").click()
    page.wait_for_selector(".messages li.success")
    assert Ticket.objects.get(pk=ticket.pk).handling_unit_id == target.pk

    # The report form: months first, the last complete one chosen; "quarterly" swaps the menu
    page.goto(f"{base}/analytics/reports/")
    menu = page.locator("#report-period")
    expected = report_period_menu(today=_today())
    assert menu.input_value() == expected.chosen
    assert page.locator("[data-period-kinds]").is_visible()
    assert menu.locator("optgroup").count() == 1
    page.get_by_test_id("period-kind-quarter").check()
    assert menu.input_value() == expected.groups[1].default
    assert re.fullmatch(r"\d{4}-Q[1-4]", menu.locator("option").first.get_attribute("value"))
    with translation.override("zh-hans"):
        assert menu.locator("optgroup").get_attribute("label") == pgettext("report period group", "Quarters")
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 1
    assert _fits(page, menu)
    shot(page, tmp_path, "report-period-phone")


def _today():
    from django.utils import timezone

    return timezone.localdate()
