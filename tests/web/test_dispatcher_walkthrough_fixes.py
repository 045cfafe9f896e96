# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""What the dispatcher / hotline-import walkthrough found, on the pages: the queue as cards on a
phone (key cells first, no bulk form on an empty queue), the classifier panel saying what
happened to the ticket, "督办…" opening its panel, the unreachable tick explained, the grid's
model name, and the import pages naming columns and rows as the operator's file does.

Strings new in this change are compared with their ``gettext`` (they read English until the
catalogs have them), never with a Chinese literal.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    SANITATION,
    accepted,
    dispatched,
    hotline,
    in_follow_up,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)
from zhiwang.geo.models import Grid
from zhiwang.tickets.models import Ticket, TicketImport, TicketStatus
from zhiwang.tickets.workflow import TicketAction

pytestmark = pytest.mark.django_db


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def table(html: str, testid: str) -> str:
    match = re.search(rf'<table class="([^"]*)" data-testid="{testid}">(.*?)</table>', html, re.S)
    assert match, testid
    return match.group(1) + " " + match.group(2)


def first_row(html: str, testid: str) -> list[str]:
    """The cells (opening tags and content) of the table's first body row."""
    body = table(html, testid).split("<tbody>", 1)[1]
    row = body.split("</tr>", 1)[0]
    return re.findall(r"<td[^>]*>.*?</td>", row, re.S)


# --- 3. the queue on a phone ----------------------------------------------------------------


def test_the_pending_queue_is_a_stack_with_the_ticket_then_the_suggested_unit_and_button(
    client, make_ticket, nanshan_dispatcher
):
    ticket = make_ticket()
    assert ticket.status == TicketStatus.PENDING_DISPATCH
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get("/dispatch/?tab=pending"))
    assert "stack" in table(html, "pending-table").split(" ")
    cells = first_row(html, "pending-table")
    # no column for the tick box: it sits in the ticket's cell, which comes first
    assert 'name="tickets"' in cells[0] and "<code>" in cells[0]
    assert "data-label" in cells[1] and 'data-testid="route-explanation"' in cells[1]
    assert 'class="row-action"' in cells[2]
    assert all('class="later' in c or "nowrap later" in c for c in cells[3:]), cells[3:]


def test_an_empty_pending_queue_has_no_bulk_form(client, nanshan_dispatcher):
    Ticket.objects.filter(status=TicketStatus.PENDING_DISPATCH).delete()
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get("/dispatch/?tab=pending"))
    assert 'data-testid="bulk-form"' not in html and 'data-testid="pending-empty"' in html


@pytest.mark.parametrize("tab", ["pending", "requests", "review", "follow_up", "breaching"])
def test_every_queue_tab_keeps_the_tab_bar_and_closes_its_links(client, make_ticket, nanshan_dispatcher, tab):
    """An edit once cut the tab bar out of the template; it still rendered, without tabs."""
    make_ticket()
    client.force_login(nanshan_dispatcher)
    html = client.get(f"/dispatch/?tab={tab}").content.decode()
    for name in ("pending", "requests", "review", "follow_up", "breaching"):
        assert f'data-testid="tab-{name}"' in html
    assert html.count("<a ") + html.count("<a\n") == html.count("</a>")
    assert html.count("<form") == html.count("</form>") and html.count("<table") == html.count("</table>")


def test_the_breaching_queue_shows_the_deadline_and_actions_before_the_rest(
    client, accepted, nanshan_dispatcher
):
    ticket = accepted()
    Ticket.objects.filter(pk=ticket.pk).update(due_at=ticket.received_at)  # overdue
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get("/dispatch/?tab=breaching"))
    assert "stack" in table(html, "breaching-table").split(" ")
    row = first_row(html, "breaching-table")
    assert ticket.number in row[0]
    assert 'data-label="' in row[1] and "deadline" in row[1]
    assert 'class="row-action"' in row[2] and "#act-supervise" in row[2]
    assert all("later" in c for c in row[3:])


# --- 4. the classification panel says what happened -------------------------------------------


def _classified(ticket, choices, decision="auto") -> Ticket:
    record = {"model": "category v1", "decision": decision, "choices": choices}
    Ticket.objects.filter(pk=ticket.pk).update(classification=record)
    return Ticket.objects.get(pk=ticket.pk)


def test_a_ticket_a_dispatcher_dispatched_names_the_dispatcher(client, dispatched, nanshan_dispatcher):
    ticket = _classified(dispatched(), [[SANITATION, 0.62]], decision="queue")
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert 'data-testid="classification-dispatched"' in html
    assert nanshan_dispatcher.display_name in html.split('data-testid="classification-dispatched"')[1][:300]
    assert gettext("to be checked by a dispatcher") not in html


def test_a_confident_classifier_on_a_queued_ticket_does_not_claim_an_automatic_dispatch(
    client, make_ticket, nanshan_dispatcher
):
    ticket = make_ticket()  # chosen at intake, no routing rule dispatches it: in the queue
    assert ticket.status == TicketStatus.PENDING_DISPATCH
    ticket = _classified(ticket, [[SANITATION, 0.97], ["010101", 0.001], ["010102", 0.0]])
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    panel = html.split('data-testid="classification"')[1].split("</dd>")[0]
    assert "sure enough to dispatch automatically" not in panel
    assert "自动派遣" not in panel and 'data-testid="classification-queued"' in panel
    assert gettext("to be checked by a dispatcher") in panel
    if (ticket.route_reason or {}).get("code") == "no_rule":
        assert gettext("no routing rule dispatches it automatically") in panel
    # the second and third choices are under the suggestion floor: not shown as "0%"
    assert panel.count("<li") == 1 and "0%" not in panel.replace("100%", "")


# --- 5. "督办…" opens its panel ----------------------------------------------------------------


def test_the_ticket_script_opens_the_details_the_fragment_names(client, nanshan_dispatcher):
    from django.contrib.staticfiles import finders

    script = open(finders.find("web/tickets.js"), encoding="utf-8").read()
    assert "hashchange" in script and "openFromHash" in script and ".open = true" in script


# --- 6. the unreachable tick says it closes the ticket ----------------------------------------


def test_the_unreachable_tick_says_it_closes_the_ticket(client, in_follow_up, nanshan_dispatcher):
    ticket = in_follow_up()
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    hint = gettext(
        "Ticking this closes the ticket at once as “citizen unreachable”; "
        "the answers on resolution and satisfaction are not recorded."
    )
    assert hint in html
    assert re.search(r'aria-describedby="[^"]*unreachable_helptext', html)


# --- 7. the grid's model name ------------------------------------------------------------------


def test_the_grid_model_is_not_named_as_a_count():
    with translation.override("zh-hans"):
        assert str(Grid._meta.verbose_name_plural) != "网格数"
        division = Grid._meta.get_field("community").related_model
        # the division's grid count keeps its own msgid (网格数): only the model name changed
        assert str(division._meta.get_field("grid_count").verbose_name) != str(Grid._meta.verbose_name_plural)


# --- 2. the import pages ---------------------------------------------------------------------


@pytest.fixture
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_the_import_form_lists_chinese_column_names_first_and_the_kinds(client, hotline):
    client.force_login(hotline)
    html = html_of(client.get("/call-imports/"))
    columns = table(html, "import-columns")
    first = re.findall(r"<tr data-field=\"(\w+)\"><td><strong>([^<]+)</strong>", columns)
    assert ("external_id", "来电编号") in first and ("kind", "诉求类型") in first
    values = re.search(r'data-testid="kind-values">([^<]+)<', columns).group(1)
    assert all(word in values for word in ("咨询", "求助", "投诉", "举报", "建议", "表扬"))


def test_the_refused_rows_name_the_row_and_the_files_column_without_codes(
    client, hotline, _media, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    lines = [
        "诉求类型,分类编码,诉求内容,来电号码,受理时间",
        f"咨询,{SANITATION},请问厨余垃圾怎么投放？,call me,2026-11-20 10:30",
        f"咨询,{SANITATION},请问大件垃圾怎么预约？,,2026-13-45",
    ]
    upload = SimpleUploadedFile("calls.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/call-imports/", {"file": upload, "channel": "hotline"})
    run = TicketImport.objects.get()
    assert run.refused == 2, run.error
    html = html_of(client.get(f"/call-imports/{run.pk}/"))
    rows = table(html, "refused-rows")
    assert "来电号码" in rows and "受理时间" in rows  # the file's own headers
    assert (
        not re.search(r"row-[0-9a-f]{6}", rows)
        and "tickets.phone_invalid" not in rows
        and "tickets.bad_time" not in rows
    )
    assert gettext("row %(row)s (no call id)") % {"row": 2} in rows


def test_the_validated_notice_says_importing_would_give_the_counts(
    client, hotline, _media, django_capture_on_commit_callbacks
):
    client.force_login(hotline)
    lines = ["诉求类型,分类编码,诉求内容", f"咨询,{SANITATION},请问厨余垃圾怎么投放？"]
    upload = SimpleUploadedFile("calls.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/call-imports/", {"file": upload, "channel": "hotline", "validate_only": "on"})
    run = TicketImport.objects.get()
    html = html_of(client.get(f"/call-imports/{run.pk}/"))
    notice = gettext(
        "This file was only validated: no ticket was created. Importing it for real would give the counts above."
    )
    assert notice in html and "上面的数字是正式导入后的结果" not in html


def test_a_dispatch_row_by_a_dispatcher_is_a_dispatch_event(dispatched, nanshan_dispatcher):
    ticket = dispatched()
    last = ticket.events.filter(action=TicketAction.DISPATCH).last()
    assert last.actor_id == nanshan_dispatcher.pk  # what the panel reads as "dispatched by"
