# ruff: noqa: F811 (pytest fixtures imported from tests.disputes)
"""The shell after the browser walkthrough: the top menu of each role links only pages the role
may open and folds on a phone; a favicon, also at /favicon.ico; the admin says it is Zhiwang's
and names the governance index's levels; the map picker speaks to citizens without "WGS84"."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.utils.translation import gettext

from tests.disputes.conftest import world  # noqa: F401 (fixture)
from tests.tickets.conftest import hotline  # noqa: F401 (fixture)
from tests.web.test_home_entries import DEMO_USERS
from zhiwang.accounts.models import User
from zhiwang.analytics.models import GovernanceIndex
from zhiwang.geo.models import Division, DivisionLevel

pytestmark = pytest.mark.django_db


def menu(client, user) -> list[tuple[str, str]]:
    """(label, href) of the top menu as ``user`` sees it on the home page."""
    client.force_login(user)
    html = client.get("/").content.decode()
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    return [(label, href) for href, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)]


def test_every_menu_link_opens_for_the_role_that_sees_it(client, world):
    """The views' own checks are the truth: each demo role's menu, each link requested (redirects
    followed: the division browser sends a single-root user to their division)."""
    users = [User.objects.get(username=name) for name in DEMO_USERS] + [world.window]
    for user in users:
        items = menu(client, user)
        assert items, user.username
        for label, href in items:
            response = client.get(href, follow=True)
            assert response.status_code == 200, (user.username, label, href, response.status_code)


def test_the_menu_folds_under_a_button_on_a_phone(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    html = client.get("/dispatch/").content.decode()
    menu_html = re.search(r'<details class="navmenu" open data-testid="nav-menu">.*?</details>', html, re.S)
    assert menu_html, "the menu is a <details>, sent open (no script: shown as before)"
    summary = re.search(r"<summary[^>]*>(.*?)</summary>", menu_html.group(0), re.S).group(1)
    # the button says it is the menu, and where one is
    assert gettext("Menu") in summary and gettext("Dispatch queue") in summary
    assert '<nav class="mainnav"' in menu_html.group(0)
    # folded by a script of the page itself (no CDN), on a narrow screen only
    assert 'matchMedia("(max-width: 700px)")' in html


def test_a_favicon_for_every_page(client):
    page = client.get("/login/").content.decode()
    for name in ("favicon.svg", "favicon-32.png", "apple-touch-icon.png"):
        href = re.search(rf'href="([^"]*/web/{re.escape(name)})"', page).group(1)
        assert client.get(href).status_code == 200, href
    # the admin, the API docs and the error pages have no <link rel="icon">: the browser asks here
    response = client.get("/favicon.ico")
    assert response.status_code == 302  # not 301: a browser keeps a permanent one for good
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content if icon.streaming else [icon.content])[:4] == b"\x00\x00\x01\x00"


def test_the_admin_is_zhiwangs(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    title = gettext("Zhiwang administration")
    assert f"<title>{title} | {title}</title>" in html
    assert re.search(rf'<div id="site-name"><a href="/admin/">{title}</a></div>', html)
    assert "Django" not in re.sub(r"<(script|link)[^>]*>", "", html)


def test_the_governance_index_admin_names_the_level(client, admin_user):
    community = Division.objects.filter(level=DivisionLevel.COMMUNITY).order_by("code").first()
    GovernanceIndex.objects.create(
        month=date(2026, 9, 1), division=community, level=community.level, score=88.5, rank=1
    )
    client.force_login(admin_user)
    html = client.get("/admin/analytics/governanceindex/").content.decode()
    row = re.search(r'<tr>\s*<td class="action-checkbox">.*?</tr>', html, re.S).group(0)
    assert f'<td class="field-shown_level">{DivisionLevel.COMMUNITY.label}</td>' in row, row
    assert ">community<" not in row
    # the level filter names the levels too, and filters
    side = re.search(r'<nav id="changelist-filter".*?</nav>', html, re.S).group(0)
    assert f">{DivisionLevel.COMMUNITY.label}</a>" in side and ">community</a>" not in side
    listed = client.get("/admin/analytics/governanceindex/", {"level": "subdistrict"}).content.decode()
    assert 'class="field-shown_level"' not in listed


def test_the_citizens_map_picker_says_gps_not_wgs84(client, citizen):
    client.force_login(citizen)
    html = client.get("/report/").content.decode()
    assert "WGS84" not in html
    assert gettext("Or type the longitude and latitude below, as a GPS shows them.") in html


def test_a_window_clerk_s_menu_is_the_window_s_not_the_hotline_s(client, world, hotline):
    """Was: the service centre's intake operator saw 来电登记 and 来电导入 (the hotline's)."""
    client.cookies["django_language"] = "en"
    labels = [label for label, _href in menu(client, world.window)]
    assert "Service window" in labels and "Record a request" in labels
    assert "Record a call" not in labels and "Import calls" not in labels
    hrefs = dict(menu(client, world.window))
    assert hrefs["Service window"] == "/disputes/window/"
    # the hotline's operator keeps the hotline's menu
    labels = [label for label, _href in menu(client, hotline)]
    assert "Record a call" in labels and "Import calls" in labels and "Service window" not in labels


def test_one_menu_item_is_current(client, world):
    """Was: on the window page both 综治窗口 (/disputes/window/) and 矛盾纠纷 (/disputes/) were
    marked current."""
    from zhiwang.web.navigation import navigation_for

    items = navigation_for(world.window, "/disputes/window/")
    assert [str(item["label"]) for item in items if item["active"]] == [str(items[1]["label"])]
    assert items[1]["url"] == "/disputes/window/"
    items = navigation_for(world.window, "/disputes/ledger/")
    assert [item["url"] for item in items if item["active"]] == ["/disputes/"]


def test_the_home_s_words_are_the_menu_s_and_the_tabs(client, world, nanshan_dispatcher):
    """A home entry and the menu item or queue tab it opens say the same words."""
    client.cookies["django_language"] = "en"
    client.force_login(world.window)
    html = client.get("/").content.decode()
    assert "Service window" in html and "Record a request" in html
    assert "Record a request at the window" not in html
    client.force_login(nanshan_dispatcher)
    html = client.get("/").content.decode()
    for tab in ("Awaiting dispatch", "Handler requests", "Follow-ups", "Due soon or overdue"):
        assert tab in html, tab
