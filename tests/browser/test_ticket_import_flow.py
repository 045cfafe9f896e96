"""The hotline import in headless Chromium: an operator uploads a GBK file of calls, the run page
follows the background run (htmx polling) until it is done, with its totals and refused rows.

No task worker runs in tests: the upload only queues the run, and the test runs it itself
while the page is open, so the page has to notice by polling.
"""

from __future__ import annotations

import pytest

from tests.conftest import city_restore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"
SANITATION = "010214"


@pytest.fixture
def building(transactional_db, settings, tmp_path, monkeypatch):
    """The demo city (live_server tests run in a flushed database: seed again) and a Nanshan building."""
    from huey.contrib.djhuey import HUEY

    from zhiwang.accounts.models import User
    from zhiwang.core.models import CalendarDay, CalendarYear, WorkingWindow, WorkSchedule
    from zhiwang.core.workcalendar.seeding import seed_calendar_tables, seed_default_schedule
    from zhiwang.geo.models import AddressLevel, StandardAddress
    from zhiwang.tickets.catalogue import load_catalogue
    from zhiwang.tickets.models import Category, KindDeadline

    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(HUEY, "immediate", False)  # queued, as with a real worker; the test runs it
    seed_calendar_tables(CalendarDay=CalendarDay, CalendarYear=CalendarYear)
    seed_default_schedule(WorkSchedule=WorkSchedule, WorkingWindow=WorkingWindow)
    load_catalogue(Category=Category, KindDeadline=KindDeadline)
    city_restore()
    worker = User.objects.get(username="demo_grid_worker")
    grid = worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


def login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def test_operator_uploads_calls_and_sees_the_run_finish(page, building, live_server, tmp_path):
    from zhiwang.tickets.models import Ticket, TicketImport
    from zhiwang.tickets.tasks import ticket_import_run

    base = live_server.url
    login(page, base, "demo_hotline")
    page.goto(f"{base}/intake/")
    page.get_by_test_id("import-link").click()
    page.wait_for_url(f"{base}/call-imports/")
    with page.expect_download() as example:
        page.get_by_test_id("example-download").click()
    assert example.value.suggested_filename.endswith(".csv")

    content = "\n".join(
        [
            "来电编号,诉求类型,分类编码,诉求内容,来电人,联系电话,事发地址,标准地址编码,来电时间",
            f"B-001,投诉,{SANITATION},小区门口垃圾堆了三天没人清运。,王敏,13800138000,,{building.code},2026-11-20 10:05",
            f"B-002,投诉,{SANITATION},楼下噪音很大。,赵六,call me,,{building.code},2026-11-20 12:00",
        ]
    )
    page.set_input_files(
        "#id_file", files=[{"name": "来电.csv", "mimeType": "text/csv", "buffer": content.encode("gbk")}]
    )
    page.check("#id_validate_only")
    page.uncheck("#id_validate_only")  # the label is clickable; this one is imported for real
    page.screenshot(path=str(tmp_path / "import-new.png"), full_page=True)
    page.get_by_test_id("import-form").locator("button[type=submit]").click()
    page.wait_for_url("**/call-imports/*/")
    progress = page.get_by_test_id("import-progress")
    assert progress.get_attribute("data-status") == "queued"
    page.screenshot(path=str(tmp_path / "import-queued.png"), full_page=True)

    ticket_import_run(run_id=TicketImport.objects.get().pk)  # what the worker would do
    page.wait_for_selector("[data-testid=import-progress][data-status=done]")  # seen by polling
    assert page.get_by_test_id("rows-created").inner_text() == "1"
    assert page.get_by_test_id("rows-refused").inner_text() == "1"
    refused = page.get_by_test_id("refused-rows").inner_text()
    assert "B-002" in refused and "联系电话" in refused
    page.screenshot(path=str(tmp_path / "import-done.png"), full_page=True)
    with page.expect_download() as report:
        page.get_by_test_id("report-download").click()
    assert report.value.suggested_filename.endswith(".csv")
    assert Ticket.objects.filter(idempotency_key="hotline:B-001").exists()

    page.goto(f"{base}/call-imports/")
    assert "来电.csv" in page.get_by_test_id("import-runs").inner_text()
