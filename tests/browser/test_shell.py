"""Key flow in a real browser: log in, open the division browser, drill down to a grid."""

import pytest

from tests.conftest import city_restore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def city(transactional_db):
    # live_server tests run in a flushed database: the tiny city is put back first.
    city_restore()


def test_login_and_browse_divisions_down_to_a_grid(page, city, live_server, tmp_path):
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    assert page.locator("h1").inner_text() == "登录"
    page.fill("#id_username", "demo_ns_dispatcher")
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    # the account's person name, then the role (demo names carry no role word)
    from zhiwang.accounts.models import User

    shown = page.get_by_test_id("current-user").inner_text()
    assert User.objects.get(username="demo_ns_dispatcher").display_name in shown and "分拨员" in shown

    page.get_by_role("link", name="区划与网格").click()
    page.wait_for_url("**/divisions/440305000000/")
    assert "南山区" in page.get_by_test_id("division-name").inner_text()
    # The Leaflet map drew the subdistrict polygons from the installed package (no network).
    page.wait_for_selector("#map[data-ready='1']")
    assert page.locator("#map path.leaflet-interactive").count() >= 5

    page.get_by_test_id("children").locator("a").first.click()
    page.wait_for_selector("#map[data-ready='1']")
    page.get_by_test_id("children").locator("a").first.click()  # community
    page.wait_for_selector("#map[data-ready='1']")
    page.get_by_test_id("children").locator("a").first.click()  # grid
    page.wait_for_url("**/grids/*/")
    assert "网格" in page.get_by_test_id("grid-name").inner_text()
    page.screenshot(path=str(tmp_path / "grid.png"), full_page=True)


def test_wrong_password_shows_a_clear_error(page, city, live_server):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "demo_ns_dispatcher")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    # The form posts and the page reloads: wait for the answer, not for the old page.
    page.wait_for_selector(".errors")
    assert "/login/" in page.url
