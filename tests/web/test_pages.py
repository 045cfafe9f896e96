"""The web shell: Chinese first, role-aware navigation, the division browser, scoping on pages."""

import pytest

from tests.conftest import LUOHU, NANSHAN
from zhiwang.geo.models import Grid

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_login_page_speaks_chinese_by_default(client):
    html = client.get("/login/").content.decode()
    assert "登录" in html
    assert 'lang="zh-hans"' in html


def test_language_can_be_switched_to_english(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    html = client.get("/login/").content.decode()
    assert "Sign in" in html
    assert 'lang="en"' in html


def test_navigation_depends_on_role(client, nanshan_dispatcher, grid_worker, citizen):
    client.force_login(nanshan_dispatcher)
    html = client.get("/").content.decode()
    assert "区划与网格" in html and "我的网格" not in html
    client.force_login(grid_worker)
    html = client.get("/").content.decode()
    assert "我的网格" in html
    client.force_login(citizen)
    html = client.get("/").content.decode()
    assert "区划与网格" not in html


def test_dispatcher_browses_from_district_down_to_a_grid(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    response = client.get("/divisions/")
    assert response.status_code == 302 and response.url == f"/divisions/{NANSHAN}/"
    html = client.get(response.url).content.decode()
    assert "南山区" in html and "map-features" in html
    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    community = grid.community
    html = client.get(f"/divisions/{community.code}/").content.decode()
    assert grid.code in html
    page = client.get(f"/grids/{grid.code}/")
    assert page.status_code == 200
    assert grid.name in page.content.decode()


def test_pages_outside_jurisdiction_are_not_found(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    assert client.get(f"/divisions/{LUOHU}/").status_code == 404
    luohu_grid = Grid.objects.filter(code__startswith="440303").first()
    assert client.get(f"/grids/{luohu_grid.code}/").status_code == 404


def test_grid_worker_sees_members_of_own_grid(client, grid_worker):
    client.force_login(grid_worker)
    code = grid_worker.grid_assignments.order_by("grid__code").first().grid.code
    html = client.get(f"/grids/{code}/").content.decode()
    assert "孙悦" in html and "马骏" in html


def test_division_counts_roll_up(client, city_leader):
    from zhiwang.geo.models import Division, StandardAddress

    city = Division.objects.get(level="city")
    assert city.grid_count == Grid.objects.count()
    assert city.room_count == StandardAddress.objects.filter(level="room").count()
    client.force_login(city_leader)
    html = client.get(f"/divisions/{city.code}/").content.decode()
    assert "罗湖区" in html and "南山区" in html


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_api_docs_are_served_offline(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/api/v1/docs").content.decode()
    assert "swagger" in html.lower()
    assert "cdn." not in html and "unpkg" not in html
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_admin_speaks_chinese(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    assert "行政区划" in html and "网格" in html


def test_chinese_even_for_an_english_browser_until_the_user_switches(client):
    html = client.get("/login/", headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    assert "登录" in html


def test_administrators_see_platform_warnings_on_home(client, admin_user, nanshan_dispatcher):
    from zhiwang.core.services import admin_notice_raise

    admin_notice_raise(key="calendar.uncovered.2099", message="2099 年工作日历缺失")
    client.force_login(admin_user)
    assert "2099 年工作日历缺失" in client.get("/").content.decode()
    client.force_login(nanshan_dispatcher)
    assert "2099 年工作日历缺失" not in client.get("/").content.decode()


def test_healthz_does_not_tell_callers_why_the_database_failed(client, monkeypatch):
    """The error named the database host and port to anybody; it goes to the log instead."""
    from django.db import connection

    def broken(*args, **kwargs):
        raise RuntimeError('connection to server at "db.internal" (10.0.0.5), port 5432 failed')

    monkeypatch.setattr(connection, "cursor", broken)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "error", "error": "database unavailable"}
