# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""What a UI walkthrough on the demo city found: each page says what is true, links only where the
user may go, and shows every field error at once.

Personas: the grid worker of two Nanshan grids, the Nanshan dispatcher, the 12345 operator, the
handler of the first Nanshan subdistrict office, a citizen, an administrator.
"""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    ILLEGAL_BUILDING,
    RUBBISH,
    SANITATION,
    accepted,
    dispatched,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)
from tests.tickets.test_classify_fixtures import (  # noqa: F401 (fixtures)
    active_model,
    model_dir,
    tiny_trained,
)
from tests.web.test_ticket_pages import intake_data
from zhiwang.analytics.templatetags.analytics_tags import percent
from zhiwang.geo.models import Division, Grid
from zhiwang.geo.selectors import division_ancestors
from zhiwang.tickets import services
from zhiwang.tickets.models import Ticket, TicketStatus
from zhiwang.tickets.smart_selectors import MIN_RELIABLE_TICKETS, CurveRow, CurveView
from zhiwang.web.tickets.forms import new_form_token

pytestmark = pytest.mark.django_db


def html_of(response) -> str:
    return response.content.decode()


def breadcrumbs(html: str) -> str:
    return re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0)


# --- A1: a grid page links only the divisions the user may open -------------------------------


def test_grid_breadcrumbs_link_only_divisions_the_grid_worker_may_open(client, grid_worker):
    client.force_login(grid_worker)
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    chain = [*division_ancestors(division=grid.community), grid.community]
    visible = set(Division.objects.visible_to(grid_worker).values_list("pk", flat=True))
    hidden = [d for d in chain if d.pk not in visible]
    assert hidden, "the grid worker does not see the district: the case the walkthrough found"

    crumbs = breadcrumbs(html_of(client.get(f"/grids/{grid.code}/")))
    links = re.findall(r'href="([^"]+)"', crumbs)
    for href in links:  # every crumb that is a link opens
        assert client.get(href).status_code == 200, href
    for division in chain:
        assert division.display_name in crumbs  # shown, linked or not
        linked = f'href="/divisions/{division.code}/"' in crumbs
        assert linked == (division.pk in visible), division.code
    assert f'<span aria-current="page">{grid.name}</span>' in crumbs


def test_grid_breadcrumbs_for_a_dispatcher_link_their_district(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    crumbs = breadcrumbs(html_of(client.get(f"/grids/{grid.code}/")))
    assert 'href="/divisions/440305000000/"' in crumbs
    assert f'href="/divisions/{grid.community.code}/"' in crumbs


# --- A2: error pages in Chinese, with a way home -----------------------------------------------


def test_an_unknown_ticket_is_a_chinese_404_page_with_a_link_home(client, settings, nanshan_dispatcher):
    settings.DEBUG = False
    client.force_login(nanshan_dispatcher)
    response = client.get("/tickets/ZW20990101000001/")
    assert response.status_code == 404
    html = html_of(response)
    assert 'lang="zh-hans"' in html and 'data-testid="not-found"' in html
    assert '<a href="/" data-testid="home-link">返回首页</a>' in html
    assert "Not Found" not in html and "The requested resource" not in html  # not Django's bare page
    assert "/static/web/zhiwang.css" in html and "https://" not in html  # offline: local CSS only


def test_an_unknown_address_is_the_same_404_page_for_anybody(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert 'data-testid="not-found"' in html_of(response) and "返回首页" in html_of(response)


def test_the_500_page_needs_no_context_and_no_database(django_assert_num_queries):
    request = RequestFactory().get("/tickets/")
    with django_assert_num_queries(0):
        response = server_error(request)
    assert response.status_code == 500
    html = html_of(response)
    assert 'data-testid="server-error"' in html and '<a href="/">返回首页</a>' in html
    assert "/static/web/zhiwang.css" in html and "https://" not in html


@pytest.mark.parametrize("url", ["/registry/", "/disputes/"])
def test_403_pages_have_their_own_title_and_a_link_home(client, citizen, url):
    client.force_login(citizen)
    response = client.get(url)
    assert response.status_code == 403
    html = html_of(response)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert not title.startswith("智网 ·"), title  # not the generic title of every page
    assert 'data-testid="forbidden"' in html and "返回首页" in html and 'href="/"' in html


# --- U1: the intake banner says what happened to the call --------------------------------------


def test_intake_banner_names_the_unit_of_an_automatic_dispatch(client, hotline, nanshan_building):
    client.force_login(hotline)
    data = intake_data(
        category=ILLEGAL_BUILDING,
        description="楼顶有人私搭乱建铁皮房",
        address_text=nanshan_building.full_name,
    )
    response = client.post("/intake/", data, follow=True)
    ticket = Ticket.objects.get(reporter_phone="13712345678")
    assert ticket.status == TicketStatus.DISPATCHED and ticket.handling_unit is not None
    html = html_of(response)
    banner = re.search(r'<div[^>]*data-testid="intake-done".*?</div>', html, re.S).group(0)
    assert 'data-outcome="dispatched"' in banner
    assert ticket.handling_unit.name in banner and ticket.number in banner
    assert "已登记，待分拨" not in banner  # it does not wait for dispatch


def test_intake_banner_names_the_queue_a_recorded_call_waits_in(client, hotline, nanshan_building):
    client.force_login(hotline)
    response = client.post("/intake/", intake_data(address_text=nanshan_building.full_name), follow=True)
    ticket = Ticket.objects.get(reporter_phone="13712345678")
    assert ticket.status == TicketStatus.PENDING_DISPATCH and ticket.dispatch_center is not None
    banner = re.search(r'<div[^>]*data-testid="intake-done".*?</div>', html_of(response), re.S).group(0)
    assert 'data-outcome="queued"' in banner and "已登记，待分拨" in banner
    assert ticket.dispatch_center.name in banner


def test_intake_banner_of_a_number_the_operator_may_not_see_names_nothing(client, hotline):
    client.force_login(hotline)
    html = html_of(client.get("/intake/?recorded=ZW20261123000001"))
    assert 'data-outcome="recorded"' in html and 'href="/tickets/ZW20261123000001/"' in html


# --- U3: the dashboard's rates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "—"), ("", "—"), ("—", "—"), (0.72, "72.0%"), (1, "100.0%"), (0, "0.0%"), (2 / 3, "66.7%")],
)
def test_percent_filter(value, shown):
    assert percent(value) == shown


def test_dashboard_shows_rates_as_percentages_and_a_dash_when_missing(client, city_leader):
    client.force_login(city_leader)
    html = html_of(client.get("/analytics/"))
    kpis = re.search(r'<section class="kpis[^"]*" data-testid="kpis">.*?</section>', html, re.S).group(0)
    # each rate card: its label, the rate, then the links to its parts
    rates = re.findall(r'<div class="kpi"[^>]*><span>[^<]*</span><strong>([^<]*)</strong>', kpis)
    assert len(rates) == 4
    for shown in rates:  # no ticket in the window: no rate, and it says so
        assert shown == "—" or re.fullmatch(r"\d{1,3}\.\d%", shown), shown
    assert "" not in rates
    addresses = re.search(r'data-testid="addresses".*?</table>', html, re.S).group(0)
    assert 'data-testid="addresses-none"' in addresses and '<td colspan="2">—</td>' not in addresses


# --- U4: a refused form of a queue row comes back in place -------------------------------------


@pytest.fixture
def replied(accepted, sub_handler):
    def make(**overrides):
        return services.ticket_reply(ticket=accepted(**overrides), actor=sub_handler, reply="已清理。")

    return make


def _review_post(ticket, **extra):
    return {
        "review-expected_version": ticket.version,
        "review-decision": "no",
        "review-note": "",
        "next": "/dispatch/?tab=review",
        **extra,
    }


def test_a_refused_review_from_the_queue_comes_back_as_the_row_form(client, nanshan_dispatcher, replied):
    ticket = replied()
    client.force_login(nanshan_dispatcher)
    queue = html_of(client.get("/dispatch/?tab=review"))
    form_id = f"inline-review-{ticket.number}"
    assert f'id="{form_id}"' in queue
    response = client.post(
        f"/tickets/{ticket.number}/act/review/",
        _review_post(ticket),
        headers={"HX-Request": "true", "HX-Boosted": "true", "HX-Trigger": form_id},
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#{form_id}" and response["HX-Reswap"] == "outerHTML"
    html = html_of(response)
    assert html.lstrip().startswith("<form") and "<html" not in html  # the form alone, not the ticket page
    assert f'id="{form_id}"' in html
    assert f'id="id_{ticket.number}_review-note_errors"' in html  # the error next to the row's own field
    assert 'name="next" value="/dispatch/?tab=review"' in html
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REPLIED


def test_a_refused_review_posted_without_htmx_is_still_the_ticket_page(client, nanshan_dispatcher, replied):
    ticket = replied()
    client.force_login(nanshan_dispatcher)
    response = client.post(f"/tickets/{ticket.number}/act/review/", _review_post(ticket))
    assert response.status_code == 200 and "HX-Retarget" not in response
    html = html_of(response)
    assert "<html" in html and 'id="id_review-note_errors"' in html


def test_a_refused_review_on_the_ticket_page_by_htmx_is_still_the_ticket_page(
    client, nanshan_dispatcher, replied
):
    ticket = replied()
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/tickets/{ticket.number}/act/review/",
        _review_post(ticket, next=""),
        headers={"HX-Request": "true", "HX-Boosted": "true"},  # the detail page's form has no id
    )
    assert response.status_code == 200 and "HX-Retarget" not in response
    assert "<html" in html_of(response)


def test_a_good_review_from_the_queue_still_goes_back_to_the_queue(client, nanshan_dispatcher, replied):
    ticket = replied()
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/tickets/{ticket.number}/act/review/",
        _review_post(ticket, **{"review-decision": "yes"}),
        headers={"HX-Request": "true", "HX-Trigger": f"inline-review-{ticket.number}"},
    )
    assert response.status_code == 303 and response["Location"] == "/dispatch/?tab=review"


# --- U5: the citizen form checks the phone with the other fields -------------------------------


def test_citizen_form_shows_a_bad_phone_with_the_other_errors_at_once(client):
    data = {
        "kind": "complaint",
        "category": "",
        "description": "路口的垃圾桶满了没人清运",
        "address_text": "",
        "lon": "",
        "lat": "",
        "reporter_name": "李四",
        "reporter_phone": "不是电话",
        "token": new_form_token(),
    }
    response = client.post("/report/", data)
    assert response.status_code == 200
    html = html_of(response)
    assert 'id="id_category_errors"' in html
    assert 'id="id_reporter_phone_errors"' in html and "电话号码无效。" in html
    assert not Ticket.objects.exists()


def test_intake_form_shows_a_bad_phone_and_a_short_description_at_once(client, hotline):
    client.force_login(hotline)
    response = client.post("/intake/", intake_data(reporter_phone="12345", description="垃圾", category=""))
    assert response.status_code == 200
    html = html_of(response)
    assert 'id="id_category_errors"' in html
    assert 'id="id_reporter_phone_errors"' in html and "电话号码无效。" in html
    assert 'id="id_description_errors"' in html
    assert not Ticket.objects.exists()


def test_citizen_form_accepts_a_phone_written_with_spaces_and_full_width_digits(client):
    from zhiwang.web.tickets.forms import ReportForm

    form = ReportForm(data={"reporter_phone": "１３９ 0000 1111"})
    form.is_valid()
    assert "reporter_phone" not in form.errors


# --- U6: the duplicate check says whether it looked at all -------------------------------------


def test_place_panel_tells_fields_missing_from_nothing_found(client, hotline, nanshan_building):
    client.force_login(hotline)
    url = "/intake/panels/place/"
    missing = html_of(client.post(url, {"address_text": nanshan_building.full_name}))
    assert 'data-testid="duplicates-unchecked"' in missing and 'data-testid="duplicates-none"' not in missing
    checked = html_of(client.post(url, {"address_text": nanshan_building.full_name, "category": SANITATION}))
    assert 'data-testid="duplicates-none"' in checked and 'data-testid="duplicates-unchecked"' not in checked
    unknown = html_of(client.post(url, {"address_text": "火星基地一号楼", "category": SANITATION}))
    assert 'data-testid="duplicates-unchecked"' in unknown


# --- U7: the smart-dispatch curve says what it does not know -----------------------------------


def test_a_threshold_no_ticket_reaches_has_no_precision():
    assert CurveRow(0.99, 0.0, 1.0, 0).precision_percent is None
    assert CurveRow(0.5, 0.5, 0.72, 10).precision_percent == 72.0


def test_a_curve_on_few_tickets_is_flagged():
    assert CurveView(model=None, total=MIN_RELIABLE_TICKETS - 1, accuracy=0.5).too_few
    assert not CurveView(model=None, total=MIN_RELIABLE_TICKETS, accuracy=0.5).too_few
    assert not CurveView(model=None, total=0, accuracy=None).too_few  # no curve at all: said otherwise


@pytest.fixture
def corrected(active_model, make_ticket, nanshan_dispatcher):
    texts = ["楼下垃圾堆了好几天没人清运", "井盖丢了，很危险", "楼顶违建加建铁皮房"] * 2
    codes = [RUBBISH, "GI0201", ILLEGAL_BUILDING] * 2
    for text, code in zip(texts, codes, strict=True):
        services.ticket_recategorise(
            ticket=make_ticket(description=text), category=code, actor=nanshan_dispatcher
        )


def test_smart_page_shows_dashes_warns_on_few_tickets_and_local_times(
    client, admin_user, corrected, active_model
):
    metrics = dict(active_model.metrics or {})
    metrics["held_back"] = {
        "accuracy": 0.8,
        "coverage_at_target": 0.5,
        "count": 12,
        "measured_at": "2026-11-23T02:05:09+00:00",
    }
    active_model.metrics = metrics
    active_model.save(update_fields=["metrics"])
    client.force_login(admin_user)
    response = client.get("/smart-dispatch/", {"last": 100})
    html = html_of(response)
    curve = response.context["curve"]
    assert curve.total == 6 and 'data-testid="curve-too-few"' in html
    table = re.search(r'data-testid="curve-table".*?</table>', html, re.S).group(0)
    empty = [row for row in curve.rows if row.count == 0]
    assert empty, "some threshold no ticket reaches"
    cells = re.findall(r"<tr>\s*<td>([0-9.]+)</td><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)</td>", table)
    for _threshold, _coverage, precision, count in cells:
        assert (precision == "—") == (count == "0"), (precision, count)
    assert "2026-11-23 10:05" in html and "2026-11-23T02:05:09+00:00" not in html


# --- U8: the citizen's progress list -----------------------------------------------------------


def test_a_reply_sent_back_and_replied_again_shows_once_and_no_expected_time_once_answered(
    client, accepted, sub_handler, nanshan_dispatcher
):
    ticket = accepted()
    ticket = services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已安排。")
    ticket = services.ticket_review(
        ticket=ticket, actor=nanshan_dispatcher, approve=False, note="请补充现场照片"
    )
    ticket = services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已清理，附照片。")
    response = client.post("/track/", {"number": ticket.number, "phone": "13800138000"})
    assert response.status_code == 302
    html = html_of(client.get(f"/track/{ticket.number}/"))
    assert html.count("承办单位已答复，正在审核。") == 1
    assert 'data-testid="expected-by"' in html  # still waiting for the answer

    ticket = services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    assert ticket.status == TicketStatus.FOLLOW_UP
    html = html_of(client.get(f"/track/{ticket.number}/"))
    assert 'data-testid="answer"' in html and "已清理，附照片。" in html
    assert 'data-testid="expected-by"' not in html
    # the list ends with the answer, not with "being checked"
    assert html.rindex("承办单位已答复。") > html.rindex("承办单位已答复，正在审核。")
