# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""The handling-unit picker of the dispatch and reassign forms and of the queue's bulk bar.

A city dispatcher chooses among a hundred units: the options come in <optgroup>s (the suggested
unit ★ first in a group of its own, then the units by the district they serve, city-wide units
under the city's name), each option carries the unit's code for the filter box tickets.js adds,
and what is posted (the unit's pk, or "suggested" in the bulk bar) and how it is checked stay as
they were.

Strings new in this change are compared with their ``gettext`` (they read English until the
catalogs have them), never with a Chinese literal.
"""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext, ngettext, pgettext

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    city_dispatcher,
    dispatched,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Ticket, TicketStatus
from zhiwang.web.tickets import actions
from zhiwang.web.tickets.forms import BulkDispatchForm, ReassignForm, UnitForm

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"
CITY = "440300000000"


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def select_of(html: str, name: str) -> str:
    match = re.search(rf'<select name="{re.escape(name)}"[^>]*>.*?</select>', html, re.S)
    assert match, f"no select {name}"
    return match.group(0)


def groups_of(select: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(group label, [(value, label), ...]), ...]``; options outside a group under ``""``."""
    found = []
    for label, body in re.findall(
        r'(?:<optgroup label="([^"]*)">)?(.*?)(?:</optgroup>|(?=<optgroup)|</select>)',
        select.split(">", 1)[1],
        re.S,
    ):
        options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', body)
        if options or label:
            found.append((html_lib.unescape(label), [(v, html_lib.unescape(t)) for v, t in options]))
    return found


def values_of(select: str) -> list[str]:
    return re.findall(r'<option value="([^"]*)"', select)


# --- the form --------------------------------------------------------------------------------


def test_the_suggested_unit_comes_first_in_a_group_of_its_own_then_the_districts(
    city_dispatcher, make_ticket
):
    ticket = make_ticket()
    assert ticket.suggested_unit is not None
    units = actions.unit_choices(user=city_dispatcher, include=(ticket.suggested_unit,))
    form = UnitForm(units=units, suggested=ticket.suggested_unit, prefix="dispatch")
    choices = form.fields["unit"].choices
    assert choices[0] == ("", gettext("— choose —"))
    head_label, head = choices[1]
    assert str(head_label) == pgettext("handling unit group", "Suggested")
    suggested = pgettext("handling unit group", "Suggested")  # the group's word, translated
    assert head == [(str(ticket.suggested_unit.pk), f"{ticket.suggested_unit.name} ★ {suggested}")]
    assert form.fields["unit"].initial == str(ticket.suggested_unit.pk)
    # every unit once (the suggested one only in its group), grouped by the district it serves
    values = [v for _label, options in choices[1:] for v, _text in options]
    assert sorted(values) == sorted(str(u.pk) for u in units) and len(values) == len(set(values))
    districts = {d.code: d.name for d in Division.objects.filter(level__in=("city", "district"))}
    labels = [str(label) for label, _options in choices[2:]]
    assert labels[0] == districts[CITY]  # the city-wide units first (the selector's order: by division)
    assert set(labels) <= set(districts.values()) | {gettext("Other units")}
    assert len(labels) == len(set(labels))  # one group per district
    by_pk = {str(u.pk): u for u in units}
    for label, options in choices[2:]:
        for value, _text in options:
            division = by_pk[value].division
            while division.level not in ("city", "district"):
                division = division.parent
            assert division.name == str(label)


def test_the_groups_cost_no_query_per_unit(city_dispatcher):
    units = actions.unit_choices(user=city_dispatcher)
    with CaptureQueriesContext(connection) as queries:
        str(UnitForm(units=units)["unit"])
        str(BulkDispatchForm(units=units)["unit"])
    assert len(units) > 20 and len(queries) == 0, [q["sql"] for q in queries]


def test_the_posted_value_is_the_unit_s_pk_and_anything_else_is_refused(city_dispatcher, make_ticket):
    ticket = make_ticket()
    units = actions.unit_choices(user=city_dispatcher)
    other = next(u for u in units if u.pk != ticket.suggested_unit_id)
    form = UnitForm(
        {"dispatch-unit": str(other.pk)}, units=units, suggested=ticket.suggested_unit, prefix="dispatch"
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["unit"] == other
    refused = UnitForm({"dispatch-unit": "999999"}, units=units, prefix="dispatch")
    assert not refused.is_valid() and "unit" in refused.errors


def test_every_option_carries_the_unit_s_code_and_the_select_the_filter_s_words(city_dispatcher):
    units = actions.unit_choices(user=city_dispatcher)
    rendered = str(UnitForm(units=units, prefix="dispatch")["unit"])
    codes = dict(re.findall(r'<option value="(\d+)" data-code="([^"]+)"', rendered))
    assert codes == {str(u.pk): u.code for u in units}
    assert 'data-unit-picker="1"' in rendered
    assert f'data-filter-label="{gettext("Filter units")}"' in rendered
    assert "%(count)s" in rendered  # the script fills the count in


def test_reassign_has_no_suggested_group_and_leaves_out_the_current_unit(city_dispatcher, dispatched):
    """Reassigning to the unit that has the ticket is refused (``tickets.same_unit``): not offered."""
    ticket = dispatched()
    form = actions.build_form(actions.BY_SLUG["reassign"], ticket, city_dispatcher)
    assert isinstance(form, ReassignForm)
    labels = [str(label) for label, _options in form.fields["unit"].choices[1:]]
    assert pgettext("handling unit group", "Suggested") not in labels
    values = values_of(str(form["unit"]))
    assert str(ticket.handling_unit_id) not in values
    others = {str(u.pk) for u in actions.unit_choices(user=city_dispatcher)} - {str(ticket.handling_unit_id)}
    assert set(values[1:]) == others
    # posted anyway (an old page): refused next to the field, as any unit not in the list
    posted = ReassignForm(
        {"reassign-unit": str(ticket.handling_unit_id), "reassign-note": "换一个单位"},
        units=actions.unit_choices(user=city_dispatcher),
        current=ticket.handling_unit,
        prefix="reassign",
    )
    assert not posted.is_valid() and "unit" in posted.errors


# --- the pages -------------------------------------------------------------------------------


def test_the_ticket_page_dispatch_form_is_grouped_and_still_dispatches(
    client, nanshan_dispatcher, make_ticket
):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    page = html_of(client.get(f"/tickets/{ticket.number}/"))
    select = select_of(page, "dispatch-unit")
    groups = groups_of(select)
    assert groups[0] == ("", [("", gettext("— choose —"))])
    assert groups[1][0] == pgettext("handling unit group", "Suggested")
    assert groups[1][1][0][0] == str(ticket.suggested_unit_id)
    assert re.search(rf'<option value="{ticket.suggested_unit_id}"[^>]*\bselected\b', select)
    assert Division.objects.get(code=NANSHAN).name in [label for label, _options in groups]
    # the rest of the page is all there: the other panels, the timeline, the map
    for piece in ('data-testid="timeline"', 'data-testid="actions"', 'id="act-dispatch"', "data-point-map"):
        assert piece in page, piece
    assert page.count("<form") == page.count("</form>") and page.count("<details") == page.count("</details>")
    data = {
        "dispatch-unit": ticket.suggested_unit_id,
        "dispatch-note": "",
        "dispatch-expected_version": ticket.version,
    }
    assert client.post(f"/tickets/{ticket.number}/act/dispatch/", data).status_code == 303
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.DISPATCHED


def test_the_queue_s_bulk_bar_is_grouped_and_the_page_is_whole(client, city_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(city_dispatcher)
    page = html_of(client.get("/dispatch/?tab=pending"))
    select = select_of(page, "unit")
    assert 'id="bulk-unit"' in select and '<label for="bulk-unit">' in page
    groups = groups_of(select)
    assert groups[0] == ("", [("suggested", gettext("each ticket's suggested unit"))])
    values = values_of(select)
    units = actions.unit_choices(user=city_dispatcher)
    assert sorted(values[1:]) == sorted(str(u.pk) for u in units) and len(values) == len(set(values))
    assert len(groups) > 2 and pgettext("handling unit group", "Suggested") not in [g for g, _o in groups]
    # nothing else of the template lost: the tabs, the table, its row buttons, balanced tags
    for name in ("pending", "requests", "review", "follow_up", "breaching"):
        assert f'data-testid="tab-{name}"' in page
    for piece in (
        'data-testid="bulk-form"',
        'data-testid="pending-table"',
        f'data-testid="dispatch-one-{ticket.number}"',
        'data-testid="bulk-dispatch"',
        "data-check-all",
        'data-testid="route-explanation"',
    ):
        assert piece in page, piece
    assert "{#" not in page and "{%" not in page  # no template syntax shown as text
    for tag in ("form", "table", "select", "optgroup", "label", "a"):
        assert page.count(f"<{tag} ") + page.count(f"<{tag}>") == page.count(f"</{tag}>"), tag


def test_the_bulk_bar_still_posts_a_pk_or_suggested(client, city_dispatcher, make_ticket):
    first, second = make_ticket(), make_ticket()
    units = actions.unit_choices(user=city_dispatcher)
    other = next(u for u in units if u.pk != second.suggested_unit_id)
    client.force_login(city_dispatcher)
    client.post("/dispatch/bulk/", {"tickets": [f"{second.number}:{second.version}"], "unit": str(other.pk)})
    client.post("/dispatch/bulk/", {"tickets": [f"{first.number}:{first.version}"], "unit": "suggested"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.handling_unit_id == other.pk and first.handling_unit_id == first.suggested_unit_id
    third = make_ticket()
    response = client.post(
        "/dispatch/bulk/", {"tickets": [f"{third.number}:{third.version}"], "unit": "999999"}, follow=True
    )
    assert gettext("Choose a handling unit from the list.") in response.content.decode()
    third.refresh_from_db()
    assert third.status == TicketStatus.PENDING_DISPATCH


def test_the_bulk_form_alone(city_dispatcher):
    form = BulkDispatchForm(units=actions.unit_choices(user=city_dispatcher))
    rendered = str(form["unit"])
    assert rendered.startswith('<select name="unit"') and 'id="bulk-unit"' in rendered
    assert values_of(rendered)[0] == "suggested"


def test_an_english_page_says_the_picker_s_words_in_english(client, city_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(city_dispatcher)
    client.cookies["django_language"] = "en"
    page = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert "each ticket" not in page  # (the queue's words; this is the ticket page)
    select = select_of(page, "dispatch-unit")
    assert '<optgroup label="Suggested">' in select and f"{ticket.suggested_unit.name} ★ Suggested" in select
    assert 'data-filter-label="Filter units"' in select and 'data-filter-none="No unit matches."' in select


def test_a_chinese_page_marks_the_suggested_unit_in_chinese(client, city_dispatcher, make_ticket):
    """ "★ suggested" had no msgid any catalog translates: the option reads the group's word."""
    ticket = make_ticket()
    client.force_login(city_dispatcher)
    client.cookies["django_language"] = "zh-hans"
    select = select_of(html_of(client.get(f"/tickets/{ticket.number}/")), "dispatch-unit")
    with translation.override("zh-hans"):
        word = pgettext("handling unit group", "Suggested")
    assert word != "Suggested"  # translated in the catalog
    assert f"{ticket.suggested_unit.name} ★ {word}</option>" in select
    assert "suggested" not in select.lower()  # no English word left in the options


# --- the bulk bar's message -----------------------------------------------------------------------


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_bulk_message_names_the_unit(client, city_dispatcher, make_ticket):
    first, second = make_ticket(), make_ticket()
    units = actions.unit_choices(user=city_dispatcher)
    other = next(u for u in units if u.pk != first.suggested_unit_id)
    client.force_login(city_dispatcher)
    ticked = [f"{first.number}:{first.version}", f"{second.number}:{second.version}"]
    response = client.post("/dispatch/bulk/", {"tickets": ticked, "unit": str(other.pk)}, follow=True)
    expected = ngettext(
        "Dispatched %(count)s ticket to %(unit)s: %(numbers)s",
        "Dispatched %(count)s tickets to %(unit)s: %(numbers)s",
        2,
    ) % {"count": 2, "unit": other.name, "numbers": f"{first.number}, {second.number}"}
    assert messages_of(response) == [expected]


def test_each_ticket_s_suggested_unit_gets_a_line_of_its_own(client, city_dispatcher, make_ticket):
    """ "Each ticket's suggested unit" sends the ticked tickets to several units: one line each."""
    first, second, third = make_ticket(), make_ticket(), make_ticket()
    units = actions.unit_choices(user=city_dispatcher)
    other = next(u for u in units if u.pk != first.suggested_unit_id)
    Ticket.objects.filter(pk=second.pk).update(suggested_unit=other)
    client.force_login(city_dispatcher)
    ticked = [f"{t.number}:{t.version}" for t in (first, second, third)]
    response = client.post("/dispatch/bulk/", {"tickets": ticked, "unit": "suggested"}, follow=True)

    def line(count, unit, numbers):
        return ngettext(
            "Dispatched %(count)s ticket to %(unit)s: %(numbers)s",
            "Dispatched %(count)s tickets to %(unit)s: %(numbers)s",
            count,
        ) % {"count": count, "unit": unit.name, "numbers": ", ".join(numbers)}

    assert messages_of(response) == [
        line(2, first.suggested_unit, [first.number, third.number]),
        line(1, other, [second.number]),
    ]
    second.refresh_from_db()
    assert second.handling_unit_id == other.pk


def test_the_row_button_message_names_the_suggested_unit(client, city_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(city_dispatcher)
    response = client.post("/dispatch/bulk/", {"only": f"{ticket.number}:{ticket.version}"}, follow=True)
    (message,) = messages_of(response)
    assert ticket.suggested_unit.name in message and ticket.number in message
