# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.conftest)
"""The working lists count up to a cap (``core.pagination.COUNT_CAP``, 10,000): past it they say
"more than 10,000" ("10,000+") instead of counting a city's millions of tickets on every page,
and the ticket list pages through the first 10,000 only, saying so. Below the cap, every count is
exact, as before. The tests shrink the cap to 2 (``small_cap``)."""

from __future__ import annotations

import re

import pytest

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    accepted,
    dispatched,
    handler,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr("zhiwang.core.pagination.COUNT_CAP", 2)
    return 2


@pytest.fixture
def english(client):
    client.cookies["django_language"] = "en"
    return client


def _summary(html: str) -> str:
    start = html.index('data-testid="ticket-count"')
    return html[start : html.index("</strong>", start)]


def test_a_list_past_the_cap_says_more_than(english, make_ticket, nanshan_dispatcher, small_cap):
    for _ in range(3):
        make_ticket()
    english.force_login(nanshan_dispatcher)
    response = english.get("/tickets/")
    html = response.content.decode()
    assert "More than 2 tickets" in _summary(html)
    assert 'data-testid="list-capped"' in html
    assert "The list shows the first 2 tickets" in html
    # the first page holds what it holds (the page size is 50): the two counted, at most
    assert len(response.context["rows"]) == 2
    assert response.context["page"].paginator.count_exact is False


def test_a_list_at_the_cap_is_exact(english, make_ticket, nanshan_dispatcher, small_cap):
    make_ticket(), make_ticket()
    english.force_login(nanshan_dispatcher)
    html = english.get("/tickets/").content.decode()
    assert "2 tickets" in _summary(html) and "More than" not in _summary(html)
    assert 'data-testid="list-capped"' not in html


def test_a_page_past_the_cap_is_the_last_page_and_says_so(
    english, make_ticket, nanshan_dispatcher, monkeypatch
):
    monkeypatch.setattr("zhiwang.core.pagination.COUNT_CAP", 50)  # one page of 50
    monkeypatch.setattr("zhiwang.web.tickets.views.work.LIST_PAGE", 25)
    tickets = [make_ticket() for _ in range(52)]
    english.force_login(nanshan_dispatcher)
    response = english.get("/tickets/?page=40")
    page = response.context["page"]
    assert page.number == 2 and page.paginator.num_pages == 2
    html = response.content.decode()
    assert "That page is past the last one the list shows (page 2)" in html
    # page 2 holds rows 26–50 of the newest-first list: the 50 newest tickets, never the oldest two
    shown = {t.number for t, _deadline in response.context["rows"]}
    assert len(shown) == 25
    assert not shown & {t.number for t in tickets[:2]}
    # an ordinary page of a capped list does not say it was past the end
    assert "past the last one" not in english.get("/tickets/?page=1").content.decode()


def test_filters_still_narrow_a_capped_list(english, make_ticket, nanshan_dispatcher, small_cap):
    for _ in range(3):
        make_ticket()
    make_ticket(kind="inquiry")
    english.force_login(nanshan_dispatcher)
    response = english.get("/tickets/?kind=inquiry")
    assert not response.context["form"].errors
    assert "1 ticket" in _summary(response.content.decode())
    assert [t.kind for t, _deadline in response.context["rows"]] == ["inquiry"]
    assert response.context["page"].paginator.count_exact is True


def _tabs(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="tab-([a-z_]+)">[^<]*<span class="count[^"]*">([^<]+)</span>', html))


def test_the_queue_tabs_count_up_to_the_cap(english, make_ticket, nanshan_dispatcher, small_cap):
    for _ in range(3):
        make_ticket()
    english.force_login(nanshan_dispatcher)
    html = english.get("/dispatch/?tab=pending").content.decode()
    tabs = _tabs(html)
    assert tabs["pending"] == "2+"
    assert tabs["review"] == "0" and tabs["requests"] == "0"


def _tiles(client, user) -> dict[str, str]:
    client.force_login(user)
    html = client.get("/").content.decode()
    return dict(
        re.findall(r'<a class="tile[^"]*" href="[^"]+"><span>([^<]+)</span><strong>([^<]+)</strong>', html)
    )


def test_the_home_tiles_count_up_to_the_cap(
    english, make_ticket, dispatched, nanshan_dispatcher, sub_handler, small_cap
):
    for _ in range(3):
        make_ticket()
    assert _tiles(english, nanshan_dispatcher)["Awaiting dispatch"] == "2+"
    dispatched()
    assert _tiles(english, sub_handler)["To sign for"] == "1"


def test_the_inbox_counts_every_row_and_its_overdue_ones(english, dispatched, sub_handler, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from zhiwang.tickets.models import Ticket

    monkeypatch.setattr("zhiwang.web.tickets.views.work.INBOX_ROWS", 2)
    late = [dispatched() for _ in range(3)]
    # the one shown last (nearest deadline first) is not overdue; the other two are, by their
    # handling deadline and by their accept deadline
    Ticket.objects.filter(pk=late[0].pk).update(due_at=timezone.now() - timedelta(hours=1))
    Ticket.objects.filter(pk=late[1].pk).update(accept_due_at=timezone.now() - timedelta(minutes=5))
    english.force_login(sub_handler)
    response = english.get("/inbox/")
    html = response.content.decode()
    assert len(response.context["rows"]) == 2
    assert re.search(r'data-testid="inbox-count">3<', html)
    assert "The first 2 of 3, nearest deadline first." in html
    assert re.search(r'data-testid="overdue-count">2<', html)


def test_the_inbox_says_nothing_of_first_rows_when_all_are_shown(english, dispatched, sub_handler):
    dispatched()
    english.force_login(sub_handler)
    html = english.get("/inbox/").content.decode()
    assert re.search(r'data-testid="inbox-count">1<', html)
    assert 'data-testid="inbox-first-rows"' not in html


def test_a_suspended_ticket_is_overdue_neither_in_the_inbox_nor_on_the_home_page(
    english, dispatched, sub_handler
):
    """One rule (``selectors.inbox_overdue``) for the inbox's figure and the home page's tile: a
    suspended ticket's clock is stopped, so its old deadline does not make it overdue."""
    from datetime import timedelta

    from django.utils import timezone

    from zhiwang.tickets.models import Ticket, TicketStatus

    late, paused = dispatched(), dispatched()
    past = timezone.now() - timedelta(hours=1)
    Ticket.objects.filter(pk=late.pk).update(due_at=past)
    Ticket.objects.filter(pk=paused.pk).update(status=TicketStatus.SUSPENDED, due_at=past)
    english.force_login(sub_handler)
    assert re.search(r'data-testid="overdue-count">1<', english.get("/inbox/").content.decode())
    home = english.get("/").content.decode()
    assert re.search(r"Past the deadline</span><strong>1</strong>", home)
