"""The dispute flow in a real browser (headless Chromium): the window operator registers a visitor and
routes the matter to people's mediation, opens a case assigned fairly; the mediator records a session
and an agreement and downloads the 调解协议书 PDF. Screenshots go to the pytest tmp dir."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"


def _id_number(first17: str) -> str:
    from zhiwang.core.validators import id_number_check_char

    return first17 + id_number_check_char(first17)


@pytest.fixture
def dispute_city(transactional_db):
    """The flushed live-server database again, with only what this flow needs.

    The divisions (no synthetic grids or addresses: ~1 s instead of ~17 s for the whole demo
    city), the demo accounts, the work calendar (the judicial-confirmation window moves off
    holidays) and the disputes demo. No ticket catalogue: a dispute case does not use it.
    """
    from zhiwang.accounts.demo import demo_accounts_create
    from zhiwang.core.workcalendar.services import calendar_seed
    from zhiwang.disputes.demo import demo_disputes_create
    from zhiwang.geo.locator import reset_index
    from zhiwang.geo.services import divisions_load_csv

    divisions_load_csv()
    reset_index()
    calendar_seed()
    demo_accounts_create(password=PASSWORD)
    demo_disputes_create(seed=1, password=PASSWORD)


def login(page, base, username):
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def shot(page, tmp_path, name):
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def test_window_to_mediation_agreement_pdf(page, dispute_city, live_server, tmp_path):
    from zhiwang.disputes.models import DisputeCase

    base = live_server.url
    applicant_id = _id_number("44030519880808123")
    login(page, base, "demo_window")
    page.goto(f"{base}/disputes/window/")
    assert "综治中心" in page.locator("h1").inner_text()
    page.fill("#visitor_name", "陈小明")
    page.fill("#visitor_id_number", "12345")  # bad input first: a clear error, nothing queued
    page.fill("#matter", "与楼上邻居因漏水发生纠纷，要求赔偿。")
    page.select_option("#area", "peoples_mediation")
    page.get_by_test_id("register-visit").click()
    assert "18" in page.get_by_test_id("form-errors").inner_text() or page.locator(".field-error").count()
    page.fill("#visitor_id_number", applicant_id)
    page.fill("#visitor_phone", "13812345678")
    page.get_by_test_id("register-visit").click()
    queue = page.get_by_test_id("queue-peoples_mediation")
    visit = queue.get_by_test_id("visit").filter(has_text="陈**")
    expect(visit).to_have_count(1)  # waits for the page the post answers with
    shot(page, tmp_path, "window-queue")
    visit.get_by_test_id("open-case").click()

    page.wait_for_url("**/disputes/cases/new/?visit=*")
    page.select_option("#category", "neighbours")
    # the visitor's ID number is taken from the window's registration: shown masked, read-only
    expect(page.locator("#party0_identifier")).to_have_value(applicant_id[:3] + "*" * 11 + applicant_id[-4:])
    expect(page.locator("#party0_identifier")).not_to_be_editable()
    page.get_by_test_id("register-case").click()  # no respondent yet
    assert page.get_by_test_id("parties-error").inner_text() == "纠纷至少需要一名申请人和一名被申请人。"
    page.fill("#party1_name", "刘大海")
    page.fill("#amount", "5000")
    shot(page, tmp_path, "case-form")
    page.get_by_test_id("register-case").click()
    page.wait_for_url("**/disputes/cases/TJ*/")
    number = page.get_by_test_id("case-number").inner_text().strip()
    assert "人民调解委员会" in page.get_by_test_id("assignee").inner_text()
    mediator = DisputeCase.objects.get(number=number).mediator.username

    login(page, base, mediator)
    page.goto(f"{base}/disputes/workbench/")
    page.get_by_role("link", name=number, exact=True).click()
    page.fill("#place", "社区调解室")
    page.fill("#record", "双方到场，经释法说理，同意由楼上住户承担维修费用。")
    page.get_by_test_id("record-session").click()
    expect(page.get_by_test_id("case-status")).to_have_text("调解中")
    page.fill("#terms", "刘大海于十日内支付陈小明维修费用3000元。")
    page.get_by_test_id("reach-agreement").click()  # no manner or deadline of performance
    expect(page.locator(".field-error").filter(has_text="履行方式")).to_have_count(1)
    page.fill("#terms", "刘大海于十日内支付陈小明维修费用3000元。")
    page.fill("#performance_manner", "微信转账")
    page.fill("#performance_deadline", "2099-12-31")
    page.get_by_test_id("reach-agreement").click()
    expect(page.get_by_test_id("case-status")).to_have_text("已达成协议")
    shot(page, tmp_path, "case-agreed")
    with page.expect_download() as download_info:
        page.get_by_test_id("agreement-pdf").click()
    download = download_info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert download.suggested_filename.startswith("XY") and path.read_bytes().startswith(b"%PDF")


def test_dispatcher_picks_a_party_from_the_registry(page, dispute_city, live_server, tmp_path):
    """The case form's registry search (htmx): the pick is masked, survives a form sent back with
    an error, and links the party to the registry person on save; no plain value reaches the page."""
    from datetime import date

    from zhiwang.disputes.models import Party
    from zhiwang.geo.models import Division
    from zhiwang.registry.hashing import id_number_hash, normalize_phone, phone_hash
    from zhiwang.registry.models import Person

    base = live_server.url
    community = Division.objects.filter(code__startswith="440305", level="community").order_by("code").first()
    person_id = _id_number("44030519760505123")
    person = Person.objects.create(
        id_number=person_id,
        id_number_hash=id_number_hash(person_id),
        name="欧阳志远",
        gender="male",
        birth_date=date(1976, 5, 5),
        phone="13712340000",
        phone_hash=phone_hash(normalize_phone("13712340000")),
        community=community,
    )
    login(page, base, "demo_ns_dispatcher")
    page.goto(f"{base}/disputes/cases/new/")
    page.fill("#facts", "相邻通行纠纷，双方就通道占用协商未果。")
    page.select_option("#division", community.code)
    page.fill("#party0_q", "欧阳")
    row = page.get_by_test_id("party0-pick").get_by_test_id("pick-row")
    row.first.wait_for()
    assert row.count() == 1
    shown = row.first.inner_text()
    assert person.masked_name in shown and "欧阳志远" not in shown and person_id not in shown
    row.first.locator("input[type=radio]").check()
    page.fill("#party1_name", "刘大海")
    page.get_by_test_id("register-case").click()  # no category: the form comes back …
    page.locator(".field-error").first.wait_for()
    kept = page.get_by_test_id("party0-pick").locator(f'input[name="party0_person"][value="{person.pk}"]')
    assert kept.is_checked()  # … with the pick still chosen, shown masked
    assert person.masked_name in page.get_by_test_id("party0-pick").inner_text()
    assert "欧阳志远" not in page.content() and person_id not in page.content()
    shot(page, tmp_path, "case-form-pick-kept")
    page.select_option("#category", "neighbours")
    page.get_by_test_id("register-case").click()
    page.wait_for_url("**/disputes/cases/TJ*/")
    number = page.get_by_test_id("case-number").inner_text().strip()
    applicant = Party.objects.get(case__number=number, role="applicant")
    assert applicant.person_id == person.pk and applicant.identifier == person_id
    assert page.get_by_test_id("registry-link").count() >= 1
    assert "欧阳志远" not in page.content() and person_id not in page.content()
