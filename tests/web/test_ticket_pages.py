"""Ticket pages for every role: who may open what, what the forms say back, what one click writes.

Personas (tests/conftest.py): the Nanshan dispatcher and the Luohu dispatcher (the
outsider), the subdistrict office's handler, the 12345 operator, the grid worker of
two Nanshan grids, a citizen. Tickets are made through the services, as every page does.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from zhiwang.accounts.models import User
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.tickets import services
from zhiwang.tickets.models import Attachment, Ticket, TicketRequest, TicketStatus
from zhiwang.web.tickets.forms import new_form_token

pytestmark = pytest.mark.django_db

SANITATION = "010214"  # 环境卫生: via the dispatcher to the subdistrict office
RUBBISH = "GI0101"  # 暴露垃圾: grid incident, dispatched automatically, verified on site
INQUIRY_CATEGORY = "010201"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _media_and_cache(settings, tmp_path):
    from django.core.cache import cache

    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()  # the track page's failed-lookup counter lives there
    yield
    cache.clear()


def persona(username: str) -> User:
    return User.objects.get(username=username)


@pytest.fixture
def sub_handler(db):
    return persona("demo_sub_handler")


@pytest.fixture
def hotline(db):
    return persona("demo_hotline")


@pytest.fixture
def building(grid_worker) -> StandardAddress:
    """A building in the grid worker's first grid (Nanshan)."""
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


@pytest.fixture
def make_ticket(building, hotline):
    """A complaint at the Nanshan building, waiting in the Nanshan dispatcher's queue."""
    counter = {"n": 0}

    def make(**overrides) -> Ticket:
        counter["n"] += 1
        fields = {
            "channel": "hotline",
            "external_id": f"call-{counter['n']}",
            "kind": "complaint",
            "category": SANITATION,
            "description": "小区门口垃圾堆放三天没人清理",
            "reporter_name": "张三",
            "reporter_phone": "13812345678",
            "address_code": building.code,
            "actor": hotline,
            **overrides,
        }
        return services.ticket_submit(**fields).ticket

    return make


def dispatched(ticket, dispatcher) -> Ticket:
    return services.ticket_dispatch(ticket=ticket, unit=ticket.suggested_unit, actor=dispatcher)


def html_of(response) -> str:
    return response.content.decode()


def report_data(**overrides) -> dict:
    data = {
        "kind": "complaint",
        "category": SANITATION,
        "description": "路口的垃圾桶满了没人清运",
        "address_text": "",
        "lon": "",
        "lat": "",
        "reporter_name": "李四",
        "reporter_phone": "13900001111",
        "token": new_form_token(),
    }
    data.update(overrides)
    return data


# --- citizens ----------------------------------------------------------------------------------


def test_public_pages_need_no_sign_in_and_speak_chinese(client):
    for url in ("/report/", "/track/"):
        response = client.get(url)
        assert response.status_code == 200
        html = html_of(response)
        assert 'lang="zh-hans"' in html and "csrfmiddlewaretoken" in html
    html = html_of(client.get("/report/"))
    assert "反映问题" in html and 'name="token"' in html and "<optgroup" in html
    assert 'type="file"' in html and 'accept="image/*"' in html and "multiple" in html


def test_english_is_the_second_language(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/report/"})
    html = html_of(client.get("/report/"))
    assert "Report a problem" in html and 'lang="en"' in html


def test_citizen_reports_with_a_photo_and_gets_a_number(client, building):
    photo = SimpleUploadedFile("门口.png", PNG, content_type="image/png")
    response = client.post("/report/", {**report_data(address_text=building.full_name), "photos": [photo]})
    assert response.status_code == 302
    ticket = Ticket.objects.get(reporter_phone="13900001111")
    assert response.url == f"/report/done/{ticket.number}/"
    assert ticket.channel == "web" and ticket.address_id == building.pk
    attachment = Attachment.objects.get(ticket=ticket)
    assert (
        attachment.name == "门口.png" and attachment.content_type == "image/png" and not attachment.is_reply
    )
    html = html_of(client.get(response.url))
    assert ticket.number in html and 'data-testid="ticket-number"' in html


def test_a_double_submit_makes_one_ticket(client, building):
    data = report_data(address_text=building.full_name)
    first = client.post("/report/", data)
    second = client.post("/report/", data)
    assert first.status_code == second.status_code == 302
    assert first.url == second.url
    assert Ticket.objects.filter(reporter_phone="13900001111").count() == 1


def test_report_errors_show_next_to_their_fields(client):
    response = client.post("/report/", report_data(description="", reporter_phone="", category=""))
    assert response.status_code == 200
    html = html_of(response)
    for field in ("description", "reporter_phone", "category"):
        assert f'id="id_{field}_errors"' in html
    assert 'aria-invalid="true"' in html
    assert not Ticket.objects.filter(channel="web").exists()


def test_a_complaint_nobody_can_place_is_refused_at_the_address(client):
    response = client.post("/report/", report_data(address_text="某个不存在的地方"))
    assert response.status_code == 200
    assert 'id="id_address_text_errors"' in html_of(response)
    assert not Ticket.objects.filter(channel="web").exists()


def test_service_field_errors_come_back_on_the_form(client, building):
    response = client.post("/report/", report_data(address_text=building.full_name, reporter_phone="12ab"))
    assert response.status_code == 200
    assert 'id="id_reporter_phone_errors"' in html_of(response)


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("notes.txt", b"just text, not a picture", content_type="image/png"),
        SimpleUploadedFile("big.png", PNG + b"\x00" * (5 * 1024 * 1024), content_type="image/png"),
    ],
    ids=["not-an-image", "over-5-MB"],
)
def test_photos_are_checked_by_content_and_size(client, building, upload):
    response = client.post("/report/", {**report_data(address_text=building.full_name), "photos": [upload]})
    assert response.status_code == 200
    assert 'id="id_photos_errors"' in html_of(response)
    assert not Ticket.objects.filter(channel="web").exists()


def test_a_forged_form_token_is_refused(client, building):
    response = client.post("/report/", report_data(address_text=building.full_name, token="made-up"))
    assert response.status_code == 200
    assert 'data-testid="form-errors"' in html_of(response)
    assert not Ticket.objects.filter(channel="web").exists()


def test_track_needs_the_right_phone(client, make_ticket):
    ticket = make_ticket()
    response = client.post("/track/", {"number": ticket.number, "phone": "13800000000"})
    assert response.status_code == 200 and 'data-testid="form-errors"' in html_of(response)
    assert client.get(f"/track/{ticket.number}/").status_code == 302  # not proven yet
    response = client.post("/track/", {"number": ticket.number.lower(), "phone": "138-1234-5678"})
    assert response.status_code == 302 and response.url == f"/track/{ticket.number}/"
    html = html_of(client.get(response.url))
    assert 'data-testid="citizen-status"' in html and 'data-testid="citizen-timeline"' in html
    assert "张三" not in html  # no names on the public page


def test_failed_lookups_are_limited(client, make_ticket):
    ticket = make_ticket()
    for _attempt in range(10):
        client.post("/track/", {"number": ticket.number, "phone": "13800000000"})
    response = client.post("/track/", {"number": ticket.number, "phone": "13812345678"})
    assert response.status_code == 200  # even the right phone waits now


def test_a_locked_track_page_says_the_minutes_left_and_the_hotline(client, make_ticket, monkeypatch):
    """The page said "try again in an hour" whenever it was asked, and nothing else: it says the
    minutes left now, and that the 12345 hotline can tell the progress meanwhile."""
    import time

    from tests.tickets.test_public_lookup_limits import number_locked

    start = time.time()
    monkeypatch.setattr(time, "time", lambda: start)  # the counters' clock (tests/clock.py)
    ticket = make_ticket()
    for _attempt in range(10):
        client.post("/track/", {"number": ticket.number, "phone": "13800000000"})
    monkeypatch.setattr(time, "time", lambda: start + 25 * 60)
    html = html_of(client.post("/track/", {"number": ticket.number, "phone": "13812345678"}))
    errors = re.search(r'data-testid="form-errors">(.*?)</div>', html, re.S).group(1)
    assert number_locked(minutes=35) in errors and "12345" in errors


def test_track_limits_each_client_behind_the_proxy_not_the_proxy(client, make_ticket, settings):
    settings.ZHIWANG_NUM_PROXIES = 1
    ticket, other = make_ticket(), make_ticket()
    for _attempt in range(10):  # one citizen behind the proxy gets it wrong ten times
        client.post(
            "/track/",
            {"number": other.number, "phone": "13800000000"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )
    response = client.post(
        "/track/",
        {"number": ticket.number, "phone": "13812345678"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.9",  # another citizen, same proxy
    )
    assert response.status_code == 302


def test_track_ignores_a_forwarded_for_header_without_a_proxy(client, make_ticket, settings):
    settings.ZHIWANG_NUM_PROXIES = 0
    ticket, other = make_ticket(), make_ticket()
    for attempt in range(10):  # a forged header per attempt does not give a fresh bucket
        client.post(
            "/track/",
            {"number": other.number, "phone": "13800000000"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}",
        )
    response = client.post(
        "/track/", {"number": ticket.number, "phone": "13812345678"}, HTTP_X_FORWARDED_FOR="198.51.100.9"
    )
    assert response.status_code == 200 and 'data-testid="form-errors"' in html_of(response)


def test_track_locks_a_number_once_many_addresses_guessed_it(client, make_ticket):
    from zhiwang.tickets.lookup_limits import NUMBER_GLOBAL_FAILURE_LIMIT

    ticket, other = make_ticket(), make_ticket()
    for attempt in range(NUMBER_GLOBAL_FAILURE_LIMIT):
        client.post(
            "/track/",
            # another wrong phone each time: one phone tried 10 times is locked on its own
            {"number": ticket.number, "phone": f"1380000{attempt:04d}"},
            REMOTE_ADDR=f"10.{attempt // 250}.{attempt % 250}.1",
        )
    response = client.post(
        "/track/", {"number": ticket.number, "phone": "13812345678"}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 200 and 'data-testid="form-errors"' in html_of(response)
    # the API's look-up counts the same failures
    api = client.post(
        "/api/v1/tickets/public/lookup",
        {"number": ticket.number, "phone": "13812345678"},
        content_type="application/json",
        REMOTE_ADDR="10.9.9.8",
    )
    assert api.status_code == 429
    response = client.post(
        "/track/", {"number": other.number, "phone": "13812345678"}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 302  # other numbers are not affected


def test_citizen_rates_the_answer_and_the_ticket_closes(client, make_ticket, nanshan_dispatcher, sub_handler):
    ticket = dispatched(make_ticket(), nanshan_dispatcher)
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已安排清运")
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    client.post("/track/", {"number": ticket.number, "phone": "13812345678"})
    html = html_of(client.get(f"/track/{ticket.number}/"))
    assert 'data-testid="rate-link"' in html and "已安排清运" in html
    response = client.post(f"/track/{ticket.number}/rate/", {"resolved": "yes"})
    assert response.status_code == 200 and 'id="id_satisfaction_errors"' in html_of(response)
    response = client.post(f"/track/{ticket.number}/rate/", {"resolved": "yes", "satisfaction": "satisfied"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.satisfaction == "satisfied"
    assert ticket.events.last().payload["by_citizen"] is True
    assert client.get(f"/track/{ticket.number}/rate/").status_code == 302  # nothing left to rate


def test_signed_in_citizen_sees_my_requests(client, citizen, building):
    client.force_login(citizen)
    client.post("/report/", report_data(address_text=building.full_name))
    ticket = Ticket.objects.get(reporter=citizen)
    html = html_of(client.get("/my/requests/"))
    assert ticket.number in html
    assert client.get(f"/track/{ticket.number}/").status_code == 200  # own ticket: no phone needed


def test_my_requests_is_for_citizens(client, nanshan_dispatcher):
    assert client.get("/my/requests/").status_code == 302
    client.force_login(nanshan_dispatcher)
    assert client.get("/my/requests/").status_code == 403


# --- intake ------------------------------------------------------------------------------------


def intake_data(**overrides) -> dict:
    data = {
        "reporter_phone": "13712345678",
        "reporter_name": "王五",
        "channel": "hotline",
        "call_id": "",
        "kind": "complaint",
        "description": "楼下垃圾堆放很久了",
        "category": SANITATION,
        "urgency": "normal",
        "address_text": "",
        "lon": "",
        "lat": "",
        "reply": "",
        "duplicates_seen": "",
        "token": new_form_token(),
        "intent": "dispatch",
    }
    data.update(overrides)
    return data


def test_operator_records_a_call_for_dispatch(client, hotline, building):
    client.force_login(hotline)
    html = html_of(client.get("/intake/"))
    # the as-you-type panels post what was typed: nothing of it in a URL
    assert "autofocus" in html and "hx-post" in html and "hx-get" not in html
    response = client.post("/intake/", intake_data(address_text=building.full_name))
    assert response.status_code == 302
    ticket = Ticket.objects.get(reporter_phone="13712345678")
    assert response.url == f"/intake/?recorded={ticket.number}"
    assert ticket.status == TicketStatus.PENDING_DISPATCH and ticket.channel == "hotline"
    assert ticket.events.first().actor == hotline


def test_operator_answers_an_inquiry_directly(client, hotline):
    client.force_login(hotline)
    data = intake_data(
        kind="inquiry", category=INQUIRY_CATEGORY, description="请问垃圾几点清运", intent="answer"
    )
    response = client.post("/intake/", data)
    assert response.status_code == 200 and 'id="id_reply_errors"' in html_of(response)
    response = client.post("/intake/", {**data, "reply": "每天早上七点"})
    assert response.status_code == 302 and "answered=" in response.url
    ticket = Ticket.objects.get(reporter_phone="13712345678")
    assert ticket.status == TicketStatus.CLOSED and ticket.reply == "每天早上七点"


def test_operator_sees_duplicates_before_the_call_is_recorded(client, hotline, make_ticket, building):
    earlier = make_ticket()
    client.force_login(hotline)
    data = intake_data(address_text=building.full_name)
    response = client.post("/intake/", data)
    assert response.status_code == 200
    html = html_of(response)
    assert earlier.number in html and 'data-testid="duplicates"' in html
    assert f'name="duplicates_seen" value="{earlier.number}"' in html
    assert not Ticket.objects.filter(reporter_phone="13712345678").exists()
    response = client.post("/intake/", {**data, "duplicates_seen": earlier.number})
    assert response.status_code == 302
    assert Ticket.objects.filter(reporter_phone="13712345678").count() == 1


def test_intake_panels(client, hotline, make_ticket, building):
    earlier = make_ticket()
    client.force_login(hotline)
    html = html_of(
        client.post("/intake/panels/suggest/", {"description": "路边有暴露垃圾", "kind": "complaint"})
    )
    assert 'data-pick-category="GI0101"' in html
    html = html_of(client.post("/intake/panels/caller/", {"reporter_phone": "138 1234 5678"}))
    assert earlier.number in html
    html = html_of(
        client.post("/intake/panels/place/", {"address_text": building.full_name, "category": SANITATION})
    )
    assert 'data-testid="duplicates"' in html and 'data-testid="address-history"' in html


def test_intake_is_for_operators(client, citizen, sub_handler):
    assert client.get("/intake/").status_code == 302
    for user in (citizen, sub_handler):
        client.force_login(user)
        assert client.get("/intake/").status_code == 403
        assert client.post("/intake/panels/caller/", {"reporter_phone": "13812345678"}).status_code == 403


# --- dispatchers -------------------------------------------------------------------------------


def test_dispatcher_queue_shows_suggested_unit_and_why(
    client, nanshan_dispatcher, luohu_dispatcher, make_ticket
):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get("/dispatch/"))
    assert (
        ticket.number in html and ticket.suggested_unit.name in html and ticket.route_explanation[:10] in html
    )
    for tab in ("requests", "review", "follow_up", "breaching"):
        assert client.get(f"/dispatch/?tab={tab}").status_code == 200
    client.force_login(luohu_dispatcher)
    assert ticket.number not in html_of(client.get("/dispatch/"))


def test_dispatcher_dispatches_many_at_once(client, nanshan_dispatcher, make_ticket):
    first, second = make_ticket(), make_ticket(address_code="", address_text="南山区南头街道")
    client.force_login(nanshan_dispatcher)
    response = client.post(
        "/dispatch/bulk/",
        {
            "unit": "suggested",
            "tickets": [f"{first.number}:{first.version}", f"{second.number}:{second.version}"],
        },
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == TicketStatus.DISPATCHED and first.handling_unit_id == first.suggested_unit_id
    second.refresh_from_db()
    assert second.status == (
        TicketStatus.DISPATCHED if second.suggested_unit_id else TicketStatus.PENDING_DISPATCH
    )


def test_bulk_dispatch_with_a_stale_version_changes_nothing(client, nanshan_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    response = client.post("/dispatch/bulk/", {"only": f"{ticket.number}:{ticket.version - 1}"}, follow=True)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_DISPATCH
    assert ticket.number in html_of(response)  # the error names the ticket


def test_queue_is_for_dispatchers(client, hotline, sub_handler, citizen):
    for user in (hotline, sub_handler, citizen):
        client.force_login(user)
        assert client.get("/dispatch/").status_code == 403
        assert client.post("/dispatch/bulk/", {"only": "x:1"}).status_code == 403


# --- the ticket page ---------------------------------------------------------------------------


def action_buttons(html: str) -> set[str]:
    return set(re.findall(r'data-testid="form-([a-z_]+)"', html))


def test_detail_shows_fields_masked_phone_timeline_and_exactly_the_allowed_actions(
    client, nanshan_dispatcher, make_ticket
):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    response = client.get(f"/tickets/{ticket.number}/")
    assert response.status_code == 200
    html = html_of(response)
    assert "138****5678" in html and "13812345678" not in html
    assert 'data-testid="timeline"' in html and ticket.description in html
    assert action_buttons(html) == {  # no "answer directly": only inquiries are answered so
        "dispatch",
        "merge",
        "reject",
        "note",
        "reveal_contact",
        "recategorise",
    }
    assert f'name="dispatch-expected_version" value="{ticket.version}"' in html
    assert "data-point-map" in html


def test_detail_is_404_outside_the_jurisdiction_and_403_for_citizens(
    client, luohu_dispatcher, citizen, make_ticket
):
    ticket = make_ticket()
    client.force_login(luohu_dispatcher)
    assert client.get(f"/tickets/{ticket.number}/").status_code == 404
    assert client.post(f"/tickets/{ticket.number}/act/dispatch/").status_code == 404
    client.force_login(citizen)
    assert client.get(f"/tickets/{ticket.number}/").status_code == 403
    assert client.get("/tickets/ZW00000000000000/").status_code == 403


def test_dispatch_from_the_ticket_page(client, nanshan_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    data = {
        "dispatch-unit": ticket.suggested_unit_id,
        "dispatch-note": "",
        "dispatch-expected_version": ticket.version,
    }
    response = client.post(f"/tickets/{ticket.number}/act/dispatch/", data)
    assert response.status_code == 303 and response.url == f"/tickets/{ticket.number}/"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.DISPATCHED


def test_a_stale_page_gets_already_changed(client, nanshan_dispatcher, make_ticket):
    ticket = make_ticket()
    seen = ticket.version
    services.ticket_note(ticket=ticket, actor=nanshan_dispatcher, note="先看一下")
    client.force_login(nanshan_dispatcher)
    data = {"dispatch-unit": ticket.suggested_unit_id, "dispatch-expected_version": seen}
    response = client.post(f"/tickets/{ticket.number}/act/dispatch/", data)
    assert response.status_code == 409
    assert 'data-testid="conflict"' in html_of(response)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_DISPATCH


def test_an_action_the_user_may_not_take_is_refused(client, nanshan_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/tickets/{ticket.number}/act/accept/", {"accept-expected_version": ticket.version}
    )
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_DISPATCH


def test_required_fields_of_an_action_show_on_its_form(client, nanshan_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/tickets/{ticket.number}/act/reject/", {"reject-expected_version": ticket.version}
    )
    assert response.status_code == 200
    html = html_of(response)
    assert 'id="id_reject-reason_errors"' in html and 'id="act-reject" open' in html


def test_reveal_contact_is_shown_once_and_logged(client, nanshan_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    response = client.post(
        f"/tickets/{ticket.number}/act/reveal_contact/",
        {"reveal_contact-reason": "回访", "reveal_contact-expected_version": ticket.version},
    )
    assert response.status_code == 200 and "13812345678" in html_of(response)
    assert "张三" in html_of(response)
    assert ticket.events.filter(action="reveal_contact", actor=nanshan_dispatcher).exists()
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert "13812345678" not in html
    assert "张三" not in html and 'data-testid="masked-name">张*<' in html  # the name is masked too


def test_detail_lists_only_the_merged_duplicates_in_scope(client, nanshan_dispatcher, hotline, make_ticket):
    luohu = (
        StandardAddress.objects.filter(community__code__startswith="440303", level=AddressLevel.BUILDING)
        .order_by("code")
        .first()
    )
    master, near = make_ticket(), make_ticket()
    elsewhere = make_ticket(address_code=luohu.code)
    services.ticket_merge(ticket=near, master=master, actor=hotline)
    services.ticket_merge(ticket=elsewhere, master=master, actor=hotline)
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get(f"/tickets/{master.number}/"))
    assert near.number in html and elsewhere.number not in html


def test_ticket_list_is_scoped(client, nanshan_dispatcher, luohu_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    assert ticket.number in html_of(client.get("/tickets/", {"status": "open"}))
    client.force_login(luohu_dispatcher)
    assert ticket.number not in html_of(client.get("/tickets/"))


def test_ticket_list_click_through_filters(client, nanshan_dispatcher, make_ticket):
    """The filters dashboards link with: place codes, channel, dates; a typo shows on its field."""
    ticket = make_ticket()
    other = make_ticket(channel="web", actor=None)  # the public report form files it without an actor
    client.force_login(nanshan_dispatcher)
    day = ticket.received_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
    html = html_of(
        client.get(
            "/tickets/",
            {
                "grid": ticket.grid.code,
                "address": ticket.address.code,
                "channel": "hotline",
                "received_from": day.isoformat(),
                "received_to": (day + timedelta(days=1)).isoformat(),
            },
        )
    )
    assert ticket.number in html and other.number not in html
    assert '<details class="more-filters" open>' in html
    assert ticket.number not in html_of(client.get("/tickets/", {"received_to": day.isoformat()}))
    html = html_of(client.get("/tickets/", {"division": "999999999999"}))
    assert "999999999999" in html and "不存在区划" in html


# --- handlers ----------------------------------------------------------------------------------


def test_handler_inbox_accept_reply_with_attachment(client, sub_handler, nanshan_dispatcher, make_ticket):
    ticket = dispatched(make_ticket(), nanshan_dispatcher)
    client.force_login(sub_handler)
    html = html_of(client.get("/inbox/"))
    assert ticket.number in html and 'data-testid="form-accept"' in html
    response = client.post(
        f"/tickets/{ticket.number}/act/accept/",
        {"accept-expected_version": ticket.version, "next": "/inbox/"},
    )
    assert response.status_code == 303 and response.url == "/inbox/"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ACCEPTED
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert {"reply", "request_extension", "request_suspension", "request_return"} <= action_buttons(html)
    pdf = SimpleUploadedFile("处理结果.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = client.post(
        f"/tickets/{ticket.number}/act/reply/",
        {"reply-reply": "已清理完毕", "reply-expected_version": ticket.version, "reply-files": [pdf]},
    )
    assert response.status_code == 303
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REPLIED
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.is_reply and attachment.content_type == "application/pdf"
    download = client.get(f"/tickets/{ticket.number}/files/{attachment.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")


def test_handler_asks_for_a_return_with_its_legal_basis(client, sub_handler, nanshan_dispatcher, make_ticket):
    ticket = dispatched(make_ticket(), nanshan_dispatcher)
    client.force_login(sub_handler)
    url = f"/tickets/{ticket.number}/act/request_return/"
    response = client.post(
        url, {"request_return-reason": "不属于本单位职责", "request_return-expected_version": ticket.version}
    )
    assert response.status_code == 200 and 'id="id_request_return-legal_basis_errors"' in html_of(response)
    response = client.post(
        url,
        {
            "request_return-reason": "不属于本单位职责",
            "request_return-legal_basis": "《深圳市城市管理条例》第十条",
            "request_return-expected_version": ticket.version,
        },
    )
    assert response.status_code == 303
    request = TicketRequest.objects.get(ticket=ticket)
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get("/dispatch/?tab=requests"))
    assert ticket.number in html and "第十条" in html
    ticket.refresh_from_db()
    response = client.post(
        f"/tickets/{ticket.number}/act/decide/",
        {"decide-decision": "no", "decide-note": "", "decide-expected_version": ticket.version},
    )
    assert response.status_code == 200 and 'id="id_decide-note_errors"' in html_of(response)
    response = client.post(
        f"/tickets/{ticket.number}/act/decide/",
        {
            "decide-decision": "yes",
            "decide-expected_version": ticket.version,
            "next": "/dispatch/?tab=requests",
        },
    )
    assert response.status_code == 303 and response.url == "/dispatch/?tab=requests"
    request.refresh_from_db()
    ticket.refresh_from_db()
    assert request.status == "approved" and ticket.status == TicketStatus.PENDING_DISPATCH


def test_inbox_is_for_handlers(client, nanshan_dispatcher, grid_worker):
    for user in (nanshan_dispatcher, grid_worker):
        client.force_login(user)
        assert client.get("/inbox/").status_code == 403


def test_other_units_handler_cannot_act(client, nanshan_dispatcher, make_ticket):
    ticket = dispatched(make_ticket(), nanshan_dispatcher)
    client.force_login(persona("demo_handler"))  # Nanshan urban management: sees Nanshan, is not the unit
    response = client.get(f"/tickets/{ticket.number}/")
    assert response.status_code == 200 and "accept" not in action_buttons(html_of(response))
    response = client.post(
        f"/tickets/{ticket.number}/act/accept/", {"accept-expected_version": ticket.version}
    )
    assert response.status_code == 403


# --- dispatcher review and close ----------------------------------------------------------------


def test_dispatcher_reviews_and_records_the_follow_up(client, nanshan_dispatcher, sub_handler, make_ticket):
    ticket = dispatched(make_ticket(), nanshan_dispatcher)
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已清理")
    client.force_login(nanshan_dispatcher)
    assert ticket.number in html_of(client.get("/dispatch/?tab=review"))
    ticket.refresh_from_db()
    response = client.post(
        f"/tickets/{ticket.number}/act/review/",
        {
            "review-decision": "yes",
            "review-expected_version": ticket.version,
            "next": "/dispatch/?tab=review",
        },
    )
    assert response.status_code == 303
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.FOLLOW_UP
    assert ticket.number in html_of(client.get("/dispatch/?tab=follow_up"))
    response = client.post(
        f"/tickets/{ticket.number}/act/follow_up/",
        {
            "follow_up-resolved": "yes",
            "follow_up-satisfaction": "basically_satisfied",
            "follow_up-expected_version": ticket.version,
        },
    )
    assert response.status_code == 303
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.satisfaction == "basically_satisfied"


# --- grid workers ------------------------------------------------------------------------------


def test_grid_worker_reports_an_incident_in_their_grid(client, grid_worker):
    client.force_login(grid_worker)
    html = html_of(client.get("/patrol/report/"))
    assert "GI0101" in html and "010214" not in html  # grid-incident categories only
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    response = client.post(
        "/patrol/report/",
        {
            "category": RUBBISH,
            "description": "路边暴露垃圾一堆",
            "grid": grid.code,
            "urgency": "normal",
            "token": new_form_token(),
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get(channel="patrol")
    assert response.url == f"/tickets/{ticket.number}/"
    assert ticket.kind == "incident" and ticket.grid_id == grid.pk and ticket.reporter == grid_worker


def test_grid_worker_verifies_the_fix_on_site(client, grid_worker, nanshan_dispatcher, sub_handler, building):
    ticket = services.ticket_submit(
        channel="hotline", external_id="v-1", kind="complaint", category=RUBBISH,
        description="楼下有暴露垃圾", address_code=building.code, reporter_phone="13812345678",
    ).ticket  # fmt: skip
    if ticket.status == TicketStatus.PENDING_DISPATCH:
        ticket = dispatched(ticket, nanshan_dispatcher)
    ticket.refresh_from_db()
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已清运")
    services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VERIFYING
    client.force_login(grid_worker)
    html = html_of(client.get("/patrol/verify/"))
    assert ticket.number in html and 'data-testid="form-verify"' in html
    response = client.post(
        f"/tickets/{ticket.number}/act/verify/",
        {"verify-decision": "no", "verify-note": "", "verify-expected_version": ticket.version},
    )
    assert response.status_code == 200 and 'id="id_verify-note_errors"' in html_of(response)
    response = client.post(
        f"/tickets/{ticket.number}/act/verify/",
        {"verify-decision": "yes", "verify-expected_version": ticket.version, "next": "/patrol/verify/"},
    )
    assert response.status_code == 303 and response.url == "/patrol/verify/"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.FOLLOW_UP


def test_patrol_pages_are_for_grid_workers(client, nanshan_dispatcher, citizen):
    for user in (nanshan_dispatcher, citizen):
        client.force_login(user)
        assert client.get("/patrol/report/").status_code == 403
        assert client.get("/patrol/verify/").status_code == 403


# --- navigation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "present", "absent"),
    [
        (None, ["/report/", "/track/", "/login/"], ["/dispatch/", "/my/requests/"]),
        ("demo_citizen", ["/report/", "/track/", "/my/requests/"], ["/dispatch/", "/tickets/"]),
        ("demo_hotline", ["/intake/", "/tickets/"], ["/dispatch/", "/inbox/"]),
        ("demo_ns_dispatcher", ["/dispatch/", "/tickets/"], ["/intake/", "/inbox/", "/report/"]),
        ("demo_sub_handler", ["/inbox/", "/tickets/"], ["/dispatch/", "/patrol/report/"]),
        ("demo_grid_worker", ["/patrol/report/", "/patrol/verify/", "/tickets/"], ["/dispatch/", "/inbox/"]),
    ],
)
def test_navigation_by_role(client, username, present, absent):
    if username:
        client.force_login(persona(username))
    html = html_of(client.get("/track/"))
    nav = html[html.index('class="mainnav"') : html.index("</nav>", html.index('class="mainnav"'))]
    for url in present:
        assert f'href="{url}"' in nav, url
    for url in absent:
        assert f'href="{url}"' not in nav, url


def test_detail_links_the_place_and_mediation_for_those_who_may(
    client, make_ticket, nanshan_dispatcher, sub_handler, luohu_dispatcher
):
    ticket = dispatched(make_ticket(), nanshan_dispatcher)
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert 'data-testid="place-figures"' in html and f"/places/{ticket.address.code}/" in html
    assert f"/disputes/cases/new/?ticket={ticket.number}" in html
    # The handling unit works the ticket but reads no registry and does not transfer it.
    client.force_login(sub_handler)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert "place-figures" not in html and "to-mediation" not in html
    # Closed tickets are not transferred any more.
    services.ticket_reject(ticket=make_ticket(), actor=nanshan_dispatcher, reason="属诉讼事项")
    closed = Ticket.objects.filter(status="rejected").latest("pk")
    client.force_login(nanshan_dispatcher)
    assert "to-mediation" not in html_of(client.get(f"/tickets/{closed.number}/"))


def test_the_urgency_rules_flag_a_danger_for_the_dispatcher_but_never_change_the_urgency(
    client, nanshan_dispatcher, make_ticket
):
    ticket = make_ticket(title="小区3栋燃气泄漏", description="楼道里燃气泄漏，味道很大，楼里住着老人。")
    calm = make_ticket()
    assert ticket.classification["urgency"]["level"] == "urgent"
    assert "gas_leak" in {r["code"] for r in ticket.classification["urgency"]["reasons"]}
    assert ticket.urgency == calm.urgency == "normal"  # a person decides (and so the deadlines stay)
    assert "urgency" not in calm.classification
    client.force_login(nanshan_dispatcher)
    html = html_of(client.get(f"/tickets/{ticket.number}/"))
    assert 'data-testid="urgency-signal"' in html and "燃气泄漏" in html
    assert 'data-testid="urgency-signal"' not in html_of(client.get(f"/tickets/{calm.number}/"))
    queue = html_of(client.get("/dispatch/"))
    assert queue.count('data-testid="urgency-brief"') == 1


def test_the_error_summary_names_and_links_each_field(client, building):
    """On a phone the field with the error may be a screen or two below the summary: the summary
    names it and links to it."""
    client.cookies["django_language"] = "zh-hans"
    response = client.post(
        "/report/", report_data(address_text=building.full_name, reporter_phone="1381234567")
    )
    html = html_of(response)
    summary = html[html.index('data-testid="form-error-list"') :]
    summary = summary[: summary.index("</ul>")]
    assert '<a href="#id_reporter_phone">' in summary and "：" in summary
    assert summary.count("<li>") == len(response.context["form"].errors)
    client.cookies["django_language"] = "en"
    response = client.post(
        "/report/", report_data(address_text=building.full_name, reporter_phone="1381234567")
    )
    assert re.search(r'href="#id_reporter_phone">[^<]+</a>: \S', html_of(response))
