# ruff: noqa: F811 (pytest fixtures imported from tests.browser.test_ticket_flows)
"""On a 390 px phone, in a real browser: the city dispatcher finds a handling unit among the ~90 of
the queue's bulk bar by typing part of its code or name and choosing it with Enter or ↓ (typing
alone chooses nothing, a filter that hides the chosen unit sets the menu back to "each ticket's
suggested unit", a pinyin composition is not filtered until it ends), Enter in the filter box
never submits, and the ticked ticket goes to the unit found, the message naming it; the report form offers months, or quarters once
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
        no_match = gettext("No unit matches.")
    base = page.base_url
    login(page, base, "demo_city_dispatcher")
    page.goto(f"{base}/dispatch/?tab=pending")
    # the row's button keeps its word on one line ("派遣", not "派/遣" as the walkthrough's longer
    # rows made it at 1280 px; with this one short row, 1000 px squeezes the column as much)
    page.set_viewport_size({"width": 1000, "height": 900})
    row_button = page.get_by_test_id(f"dispatch-one-{ticket.number}")
    lines = page.evaluate(
        """b => { const r = document.createRange(); r.selectNodeContents(b);
                  return new Set(Array.from(r.getClientRects(), x => Math.round(x.top))).size; }""",
        row_button.element_handle(),
    )
    assert lines == 1
    page.set_viewport_size(PHONE)

    box = page.get_by_label(filter_label, exact=True)
    select = page.locator("#bulk-unit")
    status = page.locator("#bulk-unit-filter-status")
    assert select.input_value() == "suggested"
    assert box.get_attribute("aria-controls") == "bulk-unit"
    # a code (any case) leaves one unit, and the live region says so; typing chooses nothing
    box.fill("demo-gov-440303")
    assert select.locator("option").count() == 2  # "each ticket's suggested unit" and the match
    assert status.inner_text() == one_match
    assert select.input_value() == "suggested"
    # Enter in the box chooses the match, moves to the menu and sends nothing
    url = page.url
    box.press("Enter")
    assert select.input_value() == str(target.pk)
    assert page.evaluate("document.activeElement.id") == "bulk-unit" and page.url == url
    # a filter the chosen unit does not match sets the menu back to its first option: what the
    # closed menu shows is what "dispatch ticked" sends
    box.fill("demo-sub-")
    assert int(re.sub(r"\D", "", status.inner_text())) > 1
    assert select.input_value() == "suggested"
    box.fill("demo-gov-440303")
    box.press("ArrowDown")
    assert select.input_value() == str(target.pk)
    box.fill("xyz")
    assert status.inner_text() == no_match and select.input_value() == "suggested"
    assert select.locator("option").count() == 1
    # while a pinyin input method composes, nothing is filtered; its word is, once composed
    box.fill("")
    every = select.locator("option").count()
    page.evaluate(
        """el => { el.value = "ur";
                   el.dispatchEvent(new CompositionEvent("compositionstart", {bubbles: true}));
                   el.dispatchEvent(new InputEvent("input", {bubbles: true, isComposing: true, data: "ur"})); }""",
        box.element_handle(),
    )
    assert select.locator("option").count() == every and status.inner_text() == ""
    page.evaluate(
        """el => { el.value = "xyz";
                   el.dispatchEvent(new CompositionEvent("compositionend", {bubbles: true, data: "xyz"})); }""",
        box.element_handle(),
    )
    assert status.inner_text() == no_match
    box.fill("demo-gov-440303")
    box.press("Enter")
    assert select.input_value() == str(target.pk)
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
    done = page.locator(".messages li.success").inner_text()
    assert target.name in done and ticket.number in done  # the message names the unit

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
