"""GET requests and GET requests/{id} (GeoReport v2 §"GET Service Requests"): filters, the
90-day / 1000 defaults, the paging extension, the ticket ↔ Open311 mapping, and no personal data."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from zhiwang.geo.models import StandardAddress
from zhiwang.open311.params import ANONYMOUS_PAGE_SIZE
from zhiwang.tickets.models import Category, Ticket, TicketStatus
from zhiwang.tickets.services import ticket_merge, ticket_note, ticket_reject

from .conftest import make_tickets

pytestmark = pytest.mark.django_db

W3C_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


def posted(o311, data) -> Ticket:
    response = o311.post(**data)
    assert response.status_code == 200, response.content.decode()
    return Ticket.objects.get(number=o311.doc(response)[0]["service_request_id"])


def numbers(rows):
    return [row["service_request_id"] for row in rows]


@pytest.fixture
def pending(o311, rubbish):
    """A 园林绿化环卫 (010201) request in Nanshan: routed to the dispatcher's queue, not dispatched."""
    data = {k: v for k, v in rubbish.items() if not k.startswith("attribute")}
    return lambda **more: posted(o311, {**data, "service_code": "010201", **more})


# --- mapping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_request_maps_every_field(o311, rubbish, fmt):
    ticket = posted(o311, rubbish)
    [row] = o311.doc(o311.get(f"requests/{ticket.number}", fmt), fmt)
    assert list(row) == FIELDS
    row = row if fmt == "json" else {k: (v or None) for k, v in row.items()}
    assert row["service_request_id"] == ticket.number
    assert row["status"] == "open"
    assert row["service_code"] == "GI0101"
    assert row["service_name"] == "暴露垃圾"
    assert row["description"].startswith("路边有一堆垃圾")
    assert row["service_notice"]
    assert row["zipcode"] is None
    assert row["media_url"] == "https://img.example.org/rubbish.jpg"
    for name in ("requested_datetime", "updated_datetime"):
        assert W3C_WITH_OFFSET.match(row[name]), row[name]
    ticket.refresh_from_db()
    # the point is published near, not at, the place (building point or ~100 m: docs/open311.md)
    assert float(row["lat"]) == pytest.approx(ticket.lat, abs=1e-3)
    assert float(row["long"]) == pytest.approx(ticket.lon, abs=1e-3)
    # grid incidents are dispatched at once: the unit and the deadline are known
    if ticket.handling_unit_id:
        assert row["agency_responsible"] == ticket.handling_unit.name
        assert row["status_notes"]
    if ticket.due_at:
        assert row["expected_datetime"] == timezone.localtime(ticket.due_at).isoformat(timespec="seconds")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_no_personal_data_leaves_through_get(o311, rubbish, fmt):
    description = "请联系我13900001111，身份证440305199001011234，邮箱li.si@example.org。"
    ticket = posted(o311, {**rubbish, "description": description})
    for resource in ("requests", f"requests/{ticket.number}"):
        body = o311.get(resource, fmt).content.decode()
        assert ticket.number in body
        for secret in (
            "13812345678",
            "张三",
            "zhangsan@example.org",
            "device-42",
            "acct-7",
            "13900001111",
            "440305199001011234",
            "li.si@example.org",
        ):
            assert secret not in body
        assert "139****1111" in body


def test_a_room_address_is_published_as_its_building(o311, rubbish):
    room = StandardAddress.objects.filter(level="room", community__code__startswith="440305").first()
    building = room.parent.parent if room.parent.parent_id else room.parent
    data = {k: v for k, v in rubbish.items() if k not in ("lat", "long")}
    ticket = posted(o311, {**data, "address_id": room.code})
    [row] = o311.doc(o311.get(f"requests/{ticket.number}"))
    assert (row["address"], row["address_id"]) == (building.full_name, building.code)
    assert room.name not in row["address"]


def test_status_notes_follow_the_public_timeline_only(o311, pending, nanshan_dispatcher):
    ticket = pending()
    [row] = o311.doc(o311.get(f"requests/{ticket.number}"))
    assert (row["status"], row["agency_responsible"]) == ("open", None)
    received_note, received_at = row["status_notes"], row["updated_datetime"]
    assert received_note
    # an internal note does not show, and does not count as an update
    ticket_note(ticket=ticket, actor=nanshan_dispatcher, note="内部备注：联系人王五")
    [row] = o311.doc(o311.get(f"requests/{ticket.number}"))
    assert (row["status_notes"], row["updated_datetime"]) == (received_note, received_at)
    assert "王五" not in o311.get(f"requests/{ticket.number}").content.decode()
    # the answer to the citizen does
    ticket.refresh_from_db()
    ticket_reject(ticket=ticket, actor=nanshan_dispatcher, reason="该事项属于物业管理范围，请联系小区物业。")
    [row] = o311.doc(o311.get(f"requests/{ticket.number}"))
    assert row["status"] == "closed"
    assert row["status_notes"] == "该事项属于物业管理范围，请联系小区物业。"
    ticket.refresh_from_db()
    assert row["updated_datetime"] == timezone.localtime(ticket.closed_at).isoformat(timespec="seconds")


def test_a_merged_request_is_closed_and_points_at_its_master(o311, pending, nanshan_dispatcher):
    master, duplicate = pending(), pending(description="同一个地方的绿化带垃圾没人清理。")
    ticket_merge(ticket=duplicate, master=master, actor=nanshan_dispatcher)
    [row] = o311.doc(o311.get(f"requests/{duplicate.number}"))
    assert row["status"] == "closed"
    assert master.number in row["status_notes"]


def test_a_confidential_master_is_not_named(o311, pending, nanshan_dispatcher):
    """Merged into a 举报 report (never published): the public note must not give its number away."""
    master, duplicate = pending(), pending(description="同一个地方的绿化带垃圾没人清理。")
    Ticket.objects.filter(pk=master.pk).update(kind="report")
    master.refresh_from_db()
    ticket_merge(ticket=duplicate, master=master, actor=nanshan_dispatcher)
    [row] = o311.doc(o311.get(f"requests/{duplicate.number}"))
    assert row["status"] == "closed" and row["status_notes"]
    assert master.number not in o311.get(f"requests/{duplicate.number}").content.decode()


# --- GET one ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_get_one_is_a_list_of_one_and_unknown_is_404(o311, fmt):
    [ticket] = make_tickets(1)
    rows = o311.doc(o311.get(f"requests/{ticket.number}", fmt), fmt)
    assert isinstance(rows, list) and numbers(rows) == [ticket.number]
    errors = o311.errors(o311.get("requests/ZW00000000000000", fmt), 404, fmt)
    assert errors[0]["code"] == "open311.request_not_found"


# --- what is never published -------------------------------------------------------------------


def test_reports_petitions_and_discipline_matters_are_not_published(o311):
    leaf_05 = Category.objects.filter(code__startswith="05", children__isnull=True).first()
    public = make_tickets(1)
    hidden = [
        *make_tickets(1, kind="report"),
        *make_tickets(1, channel="petition"),
        *make_tickets(1, category_code=leaf_05.code),
    ]
    listed = numbers(o311.doc(o311.get("requests")))
    assert public[0].number in listed
    for ticket in hidden:
        assert ticket.number not in listed
        assert o311.get(f"requests/{ticket.number}").status_code == 404
    by_id = o311.doc(o311.get("requests", service_request_id=",".join(t.number for t in hidden)))
    assert by_id == []


def test_criminal_matters_and_community_correction_are_not_published(o311):
    hidden = [*make_tickets(1, category_code="131103"), *make_tickets(1, category_code="131001")]
    listed = numbers(o311.doc(o311.get("requests")))
    for ticket in hidden:
        assert ticket.number not in listed
        assert o311.get(f"requests/{ticket.number}").status_code == 404


def test_what_is_published_is_configurable(o311, settings):
    [report] = make_tickets(1, kind="report")
    settings.ZHIWANG_OPEN311_PUBLIC_KINDS = ["report"]
    assert numbers(o311.doc(o311.get("requests"))) == [report.number]


# --- filters -------------------------------------------------------------------------------------


def test_status_filter(o311):
    [open_] = make_tickets(1)
    [closed] = make_tickets(1, status=TicketStatus.CLOSED)
    [rejected] = make_tickets(1, status=TicketStatus.REJECTED)
    assert numbers(o311.doc(o311.get("requests", status="open"))) == [open_.number]
    assert set(numbers(o311.doc(o311.get("requests", status="closed")))) == {closed.number, rejected.number}
    assert len(o311.doc(o311.get("requests", status="open,closed"))) == 3
    errors = o311.errors(o311.get("requests", status="pending"), 400)
    assert errors[0]["code"] == "open311.status_invalid"


def test_service_code_filter_takes_a_comma_list(o311):
    [a] = make_tickets(1, category_code="GI0101")
    [b] = make_tickets(1, category_code="GI0102")
    make_tickets(1, category_code="GI0103")
    assert set(numbers(o311.doc(o311.get("requests", service_code="GI0101,GI0102")))) == {a.number, b.number}
    assert o311.doc(o311.get("requests", service_code="NOPE")) == []


def test_service_request_id_overrides_every_other_argument(o311):
    old = timezone.now() - timedelta(days=200)
    [a] = make_tickets(1, received_at=old, status=TicketStatus.CLOSED)
    [b] = make_tickets(1)
    response = o311.get(
        "requests",
        service_request_id=f"{b.number}, {a.number},ZW-UNKNOWN",
        status="open",
        service_code="GI0101",
        start_date="2020-01-01T00:00:00Z",
        end_date="2020-01-02T00:00:00Z",
    )
    assert numbers(o311.doc(response)) == [b.number, a.number]
    # the others are not even checked
    response = o311.get("requests", service_request_id=a.number, status="maybe", page_size="0")
    assert numbers(o311.doc(response)) == [a.number]
    too_many = ",".join(f"ZW{n}" for n in range(1001))
    assert o311.errors(o311.get("requests", service_request_id=too_many), 400)[0]["code"] == (
        "open311.too_many_ids"
    )


def test_the_default_window_is_the_last_90_days(o311):
    now = timezone.now()
    [recent] = make_tickets(1, received_at=now - timedelta(days=89))
    [old] = make_tickets(1, received_at=now - timedelta(days=91))
    assert numbers(o311.doc(o311.get("requests"))) == [recent.number]
    # an explicit window reaches back
    start = (now - timedelta(days=100)).isoformat()
    end = (now - timedelta(days=90)).isoformat()
    assert numbers(o311.doc(o311.get("requests", start_date=start, end_date=end))) == [old.number]
    # an end date alone looks 90 days back from it
    assert numbers(o311.doc(o311.get("requests", end_date=end))) == [old.number]


def test_dates_take_z_or_an_offset(o311):
    [ticket] = make_tickets(1)
    at = timezone.localtime(ticket.received_at)
    utc = ticket.received_at.astimezone(UTC)
    windows = [
        ((at - timedelta(minutes=1)).isoformat(), (at + timedelta(minutes=1)).isoformat()),
        (
            (utc - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            (utc + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
    ]
    for start, end in windows:
        assert numbers(o311.doc(o311.get("requests", start_date=start, end_date=end))) == [ticket.number]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"},
            "open311.date_range_too_long",
        ),
        (
            {"start_date": "2026-01-01T00:00:00", "end_date": "2026-01-02T00:00:00Z"},
            "open311.datetime_invalid",
        ),
        ({"start_date": "2026-01-01"}, "open311.datetime_invalid"),
        ({"end_date": "yesterday"}, "open311.datetime_invalid"),
        ({"start_date": "2026-02-30T00:00:00Z"}, "open311.datetime_invalid"),
        (
            {"start_date": "2026-01-05T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            "open311.dates_reversed",
        ),
        ({"page": "0"}, "open311.not_positive_integer"),
        ({"page_size": "x"}, "open311.not_positive_integer"),
        ({"page_size": "1001"}, "open311.too_large"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_queries_are_400(o311, query, code, fmt):
    errors = o311.errors(o311.get("requests", fmt, **query), 400, fmt)
    assert [e["code"] for e in errors] == [code]


def test_exactly_90_days_is_allowed(o311):
    response = o311.get("requests", start_date="2026-01-01T00:00:00Z", end_date="2026-04-01T00:00:00Z")
    assert response.status_code == 200


# --- volume and paging ---------------------------------------------------------------------------


def _next(response):
    link = response["Link"]
    assert link.endswith('>; rel="next"'), link
    return urlparse(link.split(";")[0].strip("<>"))


def test_a_keyed_client_gets_1000_by_default_newest_first_with_a_next_link(o311, client, api_key):
    now = timezone.now()
    tied = make_tickets(1000, received_at=now - timedelta(days=2))  # one time: the number breaks ties
    [newest] = make_tickets(1, received_at=now - timedelta(days=1))
    response = o311.get("requests", api_key=api_key)
    rows = o311.doc(response)
    assert len(rows) == 1000
    assert rows[0]["service_request_id"] == newest.number
    assert numbers(rows[1:]) == sorted((t.number for t in tied), reverse=True)[:999]
    link = _next(response)
    query = parse_qs(link.query)
    assert set(query) == {"api_key", "start_date", "end_date", "after", "page_size"}
    assert query["page_size"] == ["1000"]
    # the window is pinned to the instants the first page resolved: "now" does not move on
    start, end = (
        datetime.fromisoformat(query[k][0].replace("Z", "+00:00")) for k in ("start_date", "end_date")
    )
    assert end - start == timedelta(days=90) and abs(end - now) < timedelta(minutes=1)
    last = min(tied, key=lambda t: t.number)
    following = client.get(f"{link.path}?{link.query}")
    assert numbers(following.json()) == [last.number]
    assert "Link" not in following


def test_a_client_without_a_key_gets_pages_of_100(o311):
    make_tickets(101)
    response = o311.get("requests")
    assert len(o311.doc(response)) == ANONYMOUS_PAGE_SIZE == 100
    assert parse_qs(_next(response).query)["page_size"] == ["100"]
    errors = o311.errors(o311.get("requests", page_size="101"), 400)
    assert [e["code"] for e in errors] == ["open311.too_large"]
    assert "api_key" in errors[0]["description"]


def test_paging_extension(o311):
    now = timezone.now()
    tickets = [make_tickets(1, received_at=now - timedelta(minutes=m))[0] for m in range(1, 6)]
    expected = [t.number for t in tickets]  # newest first
    pages = []
    for page in (1, 2, 3):
        response = o311.get("requests", page=str(page), page_size="2", status="open")
        pages.append(numbers(o311.doc(response)))
        assert ("Link" in response) == (page < 3)
    assert pages == [expected[0:2], expected[2:4], expected[4:5]]
    assert "status=open" in o311.get("requests", page="1", page_size="2", status="open")["Link"]
    assert o311.doc(o311.get("requests", page="9", page_size="2")) == []


def test_next_links_neither_repeat_nor_skip_when_requests_arrive_or_close(o311, client):
    """Following ``Link: rel="next"`` walks the window of the first page: a request that arrives
    after page 1 is not on page 2 (the window is pinned), and one that leaves the filter (closed,
    under status=open) does not shift the pages (page 2 starts after page 1's last request)."""
    now = timezone.now()
    tickets = [make_tickets(1, received_at=now - timedelta(minutes=m))[0] for m in range(10, 16)]
    first = o311.get("requests", page_size="2", status="open")
    assert numbers(o311.doc(first)) == [t.number for t in tickets[:2]]
    make_tickets(1, received_at=timezone.now())  # arrives between the two fetches
    Ticket.objects.filter(pk=tickets[0].pk).update(status=TicketStatus.CLOSED)  # leaves status=open
    seen, link = [], _next(first)
    while True:
        response = client.get(f"{link.path}?{link.query}")
        assert response.status_code == 200, response.content.decode()
        seen += numbers(response.json())
        if "Link" not in response:
            break
        link = _next(response)
    assert seen == [t.number for t in tickets[2:]]


def test_a_next_link_carries_exact_times_that_read_back(o311):
    """Microseconds and ties: the link's times are the database's, to the microsecond."""
    at = timezone.now().replace(microsecond=123456) - timedelta(hours=1)
    tied = make_tickets(3, received_at=at)
    response = o311.get("requests", page_size="1")
    query = parse_qs(_next(response).query)
    assert query["after"] == [f"{at.astimezone(UTC).isoformat().replace('+00:00', 'Z')},{tied[-1].number}"]
    assert ".123456Z," in query["after"][0]


@pytest.mark.parametrize("after", ["yesterday,ZW1", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z,ZW 1", ","])
def test_a_bad_after_is_400(o311, after):
    errors = o311.errors(o311.get("requests", after=after), 400)
    assert [e["code"] for e in errors] == ["open311.after_invalid"]


# --- jurisdiction --------------------------------------------------------------------------------


def test_jurisdiction_of_gets(o311):
    assert o311.get("requests", jurisdiction_id="shenzhen.gov.cn").status_code == 200
    errors = o311.errors(o311.get("requests", jurisdiction_id="sfgov.org"), 404)
    assert errors[0]["code"] == "open311.jurisdiction_not_found"


def test_a_page_costs_a_fixed_number_of_queries(o311, rubbish, django_assert_max_num_queries):
    for _ in range(3):
        posted(o311, rubbish)
    make_tickets(20)
    with django_assert_max_num_queries(3):
        assert len(o311.doc(o311.get("requests"))) == 23


def test_free_text_is_published_only_for_public_channels(o311, settings):
    # a hotline call: the caller did not write for a public API
    [call] = make_tickets(
        1, channel="hotline", address_text="南山区某花园3栋1201", status=TicketStatus.CLOSED
    )
    Ticket.objects.filter(pk=call.pk).update(reply="已联系张先生，问题已解决。")
    call.refresh_from_db()
    from zhiwang.tickets.models import TicketEvent

    TicketEvent.objects.create(ticket=call, action="close", from_state="follow_up", to_state="closed")
    [row] = o311.doc(o311.get(f"requests/{call.number}"))
    assert row["description"] is None
    assert row["address"] is None  # no standard address, no division known
    assert row["status_notes"] and "张先生" not in row["status_notes"]
    body = o311.get(f"requests/{call.number}").content.decode()
    assert "1201" not in body and "张先生" not in body
    # a city may publish more channels
    settings.ZHIWANG_OPEN311_TEXT_CHANNELS = ["hotline"]
    [row] = o311.doc(o311.get(f"requests/{call.number}"))
    assert row["description"] == "测试用的工单描述"
    assert row["status_notes"] == "已联系张先生，问题已解决。"
