"""The ticket's main flows in a real browser (headless Chromium):

citizen reports and tracks · operator records a call · dispatcher dispatches, handler
accepts and replies, dispatcher reviews and closes after the follow-up (one closed loop:
each test rebuilds the demo city, so three tests keep the suite fast).
Each test saves screenshots of its main pages into its pytest tmp dir.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from tests.conftest import city_restore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"
SANITATION = "010214"
RUBBISH = "GI0101"


def _png(width: int = 48, height: int = 32, rgb: tuple[int, int, int] = (60, 140, 90)) -> bytes:
    """A real (tiny, one-colour) PNG, so the attachment thumbnails render in the screenshots."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PNG = _png()


@pytest.fixture
def city(transactional_db, settings, tmp_path):
    """live_server tests run in a flushed database: the catalogue and calendar that migrations
    seeded are gone after an earlier transactional test, so they are loaded again first."""
    from zhiwang.core.models import CalendarDay, CalendarYear, WorkingWindow, WorkSchedule
    from zhiwang.core.workcalendar.seeding import seed_calendar_tables, seed_default_schedule
    from zhiwang.tickets.catalogue import load_catalogue
    from zhiwang.tickets.models import Category, KindDeadline

    settings.MEDIA_ROOT = tmp_path / "media"
    seed_calendar_tables(CalendarDay=CalendarDay, CalendarYear=CalendarYear)
    seed_default_schedule(WorkSchedule=WorkSchedule, WorkingWindow=WorkingWindow)
    load_catalogue(Category=Category, KindDeadline=KindDeadline)
    city_restore()


@pytest.fixture
def building(city):
    from zhiwang.accounts.models import User
    from zhiwang.geo.models import AddressLevel, StandardAddress

    worker = User.objects.get(username="demo_grid_worker")
    grid = worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


def submit(building, **overrides):
    from zhiwang.accounts.models import User
    from zhiwang.tickets import services

    fields = {
        "channel": "hotline",
        "external_id": overrides.pop("external_id", "call-1"),
        "kind": "complaint",
        "category": SANITATION,
        "description": "小区门口垃圾堆放三天没人清理",
        "reporter_name": "张三",
        "reporter_phone": "13812345678",
        "address_code": building.code,
        "actor": User.objects.get(username="demo_hotline"),
    }
    fields.update(overrides)
    return services.ticket_submit(**fields).ticket


def login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def shot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_citizen_reports_with_a_photo_and_tracks_it(page, building, live_server, tmp_path):
    base = live_server.url
    page.goto(f"{base}/report/")
    assert page.locator("h1").inner_text().startswith("反映问题")
    # The category picker: search narrows the grouped list; one match is chosen.
    page.get_by_role("searchbox", name="搜索分类").fill("环境卫生")
    assert page.locator("#id_category").input_value() == SANITATION
    page.fill("#id_description", "小区东门的垃圾桶满了三天，没人清运，味道很大")
    page.fill("#id_address_text", building.full_name)
    # The pin picker writes WGS84 coordinates; removing the pin clears them again.
    page.wait_for_selector("[data-map-picker] .map[data-ready='1']")
    page.locator("[data-map-picker] .map").click()
    assert page.locator("#id_lon").input_value() != ""
    page.get_by_role("button", name="移除标记").click()
    assert page.locator("#id_lon").input_value() == ""
    page.set_input_files("#id_photos", files=[{"name": "垃圾.png", "mimeType": "image/png", "buffer": PNG}])
    page.fill("#id_reporter_name", "李四")
    page.fill("#id_reporter_phone", "13900001111")
    shot(page, tmp_path, "citizen-report")
    page.get_by_test_id("submit").click()

    page.wait_for_url("**/report/done/*/")
    number = page.get_by_test_id("ticket-number").inner_text().strip()
    assert number.startswith("ZW")
    shot(page, tmp_path, "citizen-report-done")

    # A fresh browser session: the citizen proves the ticket is theirs with number + phone.
    page.context.clear_cookies()
    page.goto(f"{base}/track/")
    page.fill("#id_number", number)
    page.fill("#id_phone", "13800000000")
    page.get_by_role("button", name="查询").click()
    # The form posts and the page reloads: wait for the answer, not for the old page.
    page.wait_for_selector("[data-testid=form-errors]")
    assert "/track/" in page.url and number not in page.url
    page.fill("#id_phone", "139 0000 1111")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(f"**/track/{number}/")
    assert "已受理" in page.get_by_test_id("citizen-status").inner_text()
    assert "已收到您的诉求" in page.get_by_test_id("citizen-timeline").inner_text()
    shot(page, tmp_path, "citizen-track")

    from zhiwang.tickets.models import Attachment, Ticket

    ticket = Ticket.objects.get(number=number)
    assert ticket.address_id == building.pk and ticket.lon is not None
    assert Attachment.objects.filter(ticket=ticket).count() == 1


def test_operator_records_a_call_with_history_suggestions_and_duplicates(
    page, building, live_server, tmp_path
):
    earlier = submit(building, category=RUBBISH, description="楼下暴露垃圾没人管")
    base = live_server.url
    login(page, base, "demo_hotline")
    # the top menu's link (the home page's "my work" links there too)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="来电登记").click()
    page.wait_for_url("**/intake/")
    assert page.evaluate("document.activeElement.id") == "id_reporter_phone"  # ready to type at once
    page.keyboard.type("13812345678")
    page.wait_for_selector("[data-testid=caller-history]")
    assert earlier.number in page.get_by_test_id("caller-history").inner_text()
    page.fill("#id_reporter_name", "张三")
    page.fill("#id_description", "又是楼下的暴露垃圾，一直没人清理")
    page.wait_for_selector("[data-pick-category='GI0101']")
    page.locator("[data-pick-category='GI0101']").click()
    assert page.locator("#id_category").input_value() == RUBBISH
    page.fill("#id_address_text", building.full_name)
    page.wait_for_selector("[data-testid=duplicates]")
    assert earlier.number in page.get_by_test_id("duplicates").inner_text()
    assert earlier.number in page.get_by_test_id("address-history").inner_text()
    shot(page, tmp_path, "operator-intake")
    page.locator("#id_description").press("Control+Enter")
    page.wait_for_selector("[data-testid=intake-done]")
    done = page.get_by_test_id("intake-done").inner_text()
    assert "已登记" in done

    from zhiwang.tickets.models import Ticket

    recorded = Ticket.objects.exclude(pk=earlier.pk).get(reporter_phone="13812345678")
    assert recorded.number in done and recorded.category.code == RUBBISH and recorded.channel == "hotline"
    assert page.evaluate("document.activeElement.id") == "id_reporter_phone"  # next call


def test_dispatch_accept_reply_review_and_close_after_the_follow_up(page, building, live_server, tmp_path):
    """The closed loop across three desks: dispatcher → handler → dispatcher."""
    ticket = submit(building)
    base = live_server.url
    login(page, base, "demo_ns_dispatcher")
    # the top menu's link (the home page's "my work" links there too)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="分拨台").click()
    table = page.get_by_test_id("pending-table")
    assert ticket.number in table.inner_text() and ticket.suggested_unit.name in table.inner_text()
    shot(page, tmp_path, "dispatcher-queue")
    page.get_by_test_id(f"dispatch-one-{ticket.number}").click()
    page.wait_for_selector(".messages li.success")
    assert ticket.number in page.locator(".messages").inner_text()
    # the queue no longer lists it (here it was the only one: the queue says it is empty)
    pending = page.get_by_test_id("pending-table")
    assert page.get_by_test_id("pending-empty").count() == 1 or ticket.number not in pending.inner_text()

    # The dispatch reached the handler's unit as a notification: the badge, the list, marked read.
    login(page, base, "demo_sub_handler")
    unread = int(page.get_by_test_id("unread-count").inner_text())
    assert unread >= 1
    page.get_by_test_id("notifications-link").click()
    row = page.get_by_test_id("notifications").locator("tr.unread", has_text=ticket.number)
    assert "派遣至本单位" in row.inner_text()
    shot(page, tmp_path, "handler-notifications")
    with page.expect_navigation():
        row.get_by_role("button", name="标为已读").click()
    assert page.get_by_test_id("notifications").locator("tr.unread", has_text=ticket.number).count() == 0
    badge = page.get_by_test_id("unread-count")
    assert (badge.count() == 0 and unread == 1) or int(badge.inner_text()) == unread - 1

    # The handler signs for it in the inbox and replies with a photo on the ticket page.
    page.get_by_role("link", name="待办工单").click()
    assert ticket.number in page.get_by_test_id("inbox-table").inner_text()
    shot(page, tmp_path, "handler-inbox")
    page.get_by_test_id("accept-submit").click()  # htmx-boosted: the inbox comes back in place
    page.wait_for_selector(".messages li.success")
    page.get_by_role("link", name=ticket.number).click()
    page.wait_for_selector("[data-testid=actions]")
    assert page.get_by_test_id("status").inner_text() == "办理中"
    page.fill("#id_reply-reply", "已安排环卫工人清运，并增加每日巡查。")
    page.set_input_files(
        "#id_reply-files", files=[{"name": "清运后.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.get_by_test_id("reply-submit").click()
    page.wait_for_selector(".messages li.success")
    assert page.get_by_test_id("status").inner_text() == "已答复"
    assert "清运" in page.get_by_test_id("reply").inner_text()
    assert page.locator("ul.attachments li").count() == 1
    shot(page, tmp_path, "handler-ticket-replied")

    # The dispatcher approves the reply, calls the citizen back and records the follow-up.
    login(page, base, "demo_ns_dispatcher")
    page.goto(f"{base}/dispatch/?tab=review")
    assert ticket.number in page.get_by_test_id("review-table").inner_text()
    page.get_by_test_id("review-yes").click()
    page.wait_for_selector(".messages li.success")
    page.get_by_test_id("tab-follow_up").click()
    row = page.get_by_test_id("follow_up-table")
    assert ticket.number in row.inner_text()
    row.get_by_label("是", exact=True).check()
    row.get_by_label("满意", exact=True).check()
    shot(page, tmp_path, "dispatcher-follow-up")
    page.get_by_test_id("follow_up-submit").click()
    page.wait_for_selector(".messages li.success")

    page.goto(f"{base}/tickets/{ticket.number}/")
    assert page.get_by_test_id("status").inner_text() == "已办结"
    timeline = page.get_by_test_id("timeline").inner_text()
    for step in ("派遣", "签收", "审核通过"):
        assert step in timeline
    page.wait_for_selector("[data-point-map][data-ready='1']")
    shot(page, tmp_path, "ticket-detail-closed")
    ticket.refresh_from_db()
    assert ticket.status == "closed" and ticket.satisfaction == "satisfied"
    assert ticket.attachments.filter(is_reply=True).count() == 1
