"""The ticket page, the dispatch queue and the tickets API speak the reader's language.

Whoever wrote them (an English-browsing operator, the sweep, a worker), the route explanation
and the system's timeline notes read in the language of the page (the ``django_language``
cookie): no Chinese on an English page but the data (names of categories, places, units), and
no English on a Chinese page.
"""

from __future__ import annotations

import html as htmllib
import re

import pytest
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import translation

from tests.tickets.test_clock import at
from tests.tickets.test_clock import make_ticket as clock_ticket
from zhiwang.accounts.models import User
from zhiwang.geo.models import AddressLevel, Division, StandardAddress
from zhiwang.tickets import services
from zhiwang.tickets.models import Ticket, TicketEvent, TicketStatus

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
SANITATION = "010214"  # 环境卫生: via the dispatcher to the subdistrict office
ILLEGAL_BUILDING = "GI0301"  # 违法搭建: dispatched automatically in Nanshan


@pytest.fixture
def building(grid_worker) -> StandardAddress:
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


@pytest.fixture
def hotline(db):
    return User.objects.get(username="demo_hotline")


def submit(building, hotline, language: str, **overrides) -> Ticket:
    fields = {
        "channel": "hotline",
        "kind": "complaint",
        "category": SANITATION,
        "description": "小区门口垃圾堆放三天没人清理",
        "reporter_phone": "13812345678",
        "address_code": building.code,
        "actor": hotline,
        **overrides,
    }
    with translation.override(language):  # the writer's language, which must not matter
        return services.ticket_submit(**fields).ticket


def texts(html: str, testid: str) -> list[str]:
    found = re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</(?:span|dd)>', html, re.S)
    return [htmllib.unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in found]


def page(client, user, ticket, language: str) -> str:
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get(f"/tickets/{ticket.number}/")
    assert response.status_code == 200
    return response.content.decode()


def data_names(ticket: Ticket) -> list[str]:
    reason = ticket.route_reason
    return [reason.get("what", ""), reason.get("where", ""), reason.get("unit", "")]


def without(text: str, names) -> str:
    for name in sorted(names, key=len, reverse=True):
        if name:
            text = text.replace(name, "")
    return text


def test_a_ticket_routed_in_chinese_reads_in_english(client, building, hotline, nanshan_dispatcher):
    queued = submit(building, hotline, "zh-hans")
    auto = submit(building, hotline, "zh-hans", category=ILLEGAL_BUILDING, external_id="auto-1")
    assert auto.status == TicketStatus.DISPATCHED
    for ticket in (queued, auto):
        html = page(client, nanshan_dispatcher, ticket, "en")
        (route,) = texts(html, "route-explanation")
        assert route.startswith("Rule #") and not CJK.search(without(route, data_names(ticket)))
        notes = [n for n in texts(html, "timeline-note") if n]
        assert notes and all(not CJK.search(without(n, data_names(ticket))) for n in notes), notes
        assert "Received via 12345 hotline." in notes
    assert any(
        n.startswith("Dispatched automatically: Rule #")
        for n in texts(page(client, nanshan_dispatcher, auto, "en"), "timeline-note")
    )
    client.cookies["django_language"] = "en"
    queue = client.get(reverse("web:dispatch_queue")).content.decode()
    shown = texts(queue, "route-explanation")
    assert shown and all(r.startswith("Rule #") for r in shown), shown


def test_a_ticket_submitted_in_english_reads_in_chinese(client, building, hotline, nanshan_dispatcher):
    ticket = submit(building, hotline, "en", category=ILLEGAL_BUILDING)
    assert CJK.search(ticket.route_explanation) and "Rule" not in ticket.route_explanation
    html = page(client, nanshan_dispatcher, ticket, "zh-hans")
    (route,) = texts(html, "route-explanation")
    assert route.startswith("规则 #") and not LATIN_WORD.search(route)
    notes = [n for n in texts(html, "timeline-note") if n]
    assert notes and not any(LATIN_WORD.search(n) for n in notes), notes


def test_the_api_answers_in_the_readers_language(client, building, hotline, nanshan_dispatcher):
    ticket = submit(building, hotline, "zh-hans", category=ILLEGAL_BUILDING)
    client.force_login(nanshan_dispatcher)
    for language, rule, received in (("en", "Rule #", "Received via"), ("zh-hans", "规则 #", "经")):
        client.cookies["django_language"] = language
        detail = client.get(f"/api/v1/tickets/{ticket.number}").json()
        assert detail["route_explanation"].startswith(rule)
        receive = detail["timeline"][0]
        assert receive["note"].startswith(received) and receive["payload"]["route"].startswith(rule)
        assert receive["payload"]["route_reason"] == ticket.route_reason  # the reason as data
        dispatch = detail["timeline"][1]
        assert rule in dispatch["note"] and dispatch["payload"]["note_code"] == "dispatched_auto"
        timeline = client.get(f"/api/v1/tickets/{ticket.number}/timeline").json()
        assert timeline[0]["note"] == receive["note"]


def test_old_tickets_show_what_they_stored(client, building, hotline, nanshan_dispatcher):
    ticket = submit(building, hotline, "zh-hans")
    stored = "规则 #4：* @ 深圳市 → 龙岗区人民政府"
    Ticket.objects.filter(pk=ticket.pk).update(route_reason={}, route_explanation=stored)
    # the receive row as written before the codes (rows are append-only: past the guard, as a
    # migration would)
    rows = TicketEvent.objects.filter(ticket=ticket, action="receive")
    QuerySet.update(rows, payload={"located_by": "address", "route": stored})
    html = page(client, nanshan_dispatcher, ticket, "en")
    assert texts(html, "route-explanation") == [stored]
    assert "Received via 12345 hotline." in texts(html, "timeline-note")  # a system row: from its channel
    client.cookies["django_language"] = "en"
    detail = client.get(f"/api/v1/tickets/{ticket.number}").json()
    assert detail["route_explanation"] == stored and detail["timeline"][0]["payload"]["route"] == stored


def test_clock_rows_are_labelled_by_what_happened(client, nanshan_dispatcher, monkeypatch):
    ticket = clock_ticket(dispatched=at(9, 26, 10), status=TicketStatus.DISPATCHED)
    Ticket.objects.filter(pk=ticket.pk).update(division=Division.objects.get(code="440305000000"))
    for moment in (at(9, 26, 12, 1), at(10, 9, 16, 48), at(10, 10, 18, 1), at(10, 11, 9), at(10, 17, 18)):
        services.clock_sweep(now=moment)
    html = page(client, nanshan_dispatcher, ticket, "en")
    actions = re.findall(r'<td class="nowrap">([^<]+)</td>\s*<td class="nowrap">', html)
    assert actions == ["Accept deadline missed", "Deadline warning", "Overdue", "Urge", "Supervise"]
    assert "Still overdue 5 working days after the urge notice." in texts(html, "timeline-note")
    assert "supervision level: 2" in html
    # the label and its value join with the language's own colon (once the catalog has it)
    catalog = translation.trans_real.translation("zh-hans")._catalog._catalogs[0]
    monkeypatch.setitem(catalog, "%(label)s: %(value)s", "%(label)s：%(value)s")
    html = page(client, nanshan_dispatcher, ticket, "zh-hans")
    assert "督办级别：2" in html and "督办级别: 2" not in html
    assert "签收超时" in html and "时限已用去 80%" in html


def test_the_time_limit_reads_in_lower_case(client, building, hotline, nanshan_dispatcher):
    ticket = submit(building, hotline, "zh-hans", category=ILLEGAL_BUILDING)
    html = page(client, nanshan_dispatcher, ticket, "en")
    assert "15 working days" in html and "Working days" not in html
    assert "15 个工作日" in page(client, nanshan_dispatcher, ticket, "zh-hans")
