# ruff: noqa: F811 (pytest fixtures imported from tests.disputes)
"""The home page leads each role to its work ("My work": web/views.py ``work_entries``) above the
jurisdiction, at ``/`` itself (no redirect), and no link of it is a page the role may not open."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext, pgettext

from tests.disputes.conftest import assigned_case, make_case, world  # noqa: F401 (fixtures)
from zhiwang.accounts.models import User
from zhiwang.web import views

pytestmark = pytest.mark.django_db

#: The demo accounts of the walkthrough (demo_window is made by the disputes demo: ``world.window``
#: is the same kind of account, an intake operator of a service centre's unit).
DEMO_USERS = [
    "demo_leader",
    "demo_ns_dispatcher",
    "demo_sub_handler",
    "demo_hotline",
    "demo_grid_worker",
    "demo_citizen",
    "demo_mediator",
    "demo_admin",
    "demo_steward",
]


@pytest.fixture
def personas(world):
    found = {name: User.objects.get(username=name) for name in DEMO_USERS}
    found["window"] = world.window
    return found


def entries(client, user) -> list[tuple[str, str, str]]:
    """(key, label, href) of the home page's "My work" links, in order."""
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200  # the home page itself, never a redirect
    html = response.content.decode()
    return [
        (key, label, href.replace("&amp;", "&"))
        for href, key, label in re.findall(
            r'<a href="([^"]+)" data-testid="entry-([a-z_]+)"><strong>([^<]+)</strong>', html
        )
    ]


@pytest.mark.parametrize(
    ("username", "first", "also", "never"),
    [
        ("demo_leader", "dashboard", {"alerts", "index", "indicators", "reports"}, {"dispatch_queue"}),
        ("demo_ns_dispatcher", "dispatch_queue", {"tickets", "import_calls", "alerts"}, {"intake"}),
        ("demo_sub_handler", "inbox", {"tickets"}, {"dispatch_queue"}),
        ("demo_hotline", "intake", {"import_calls", "case_new"}, {"window"}),
        ("demo_grid_worker", "patrol_report", {"verify", "my_grids", "registry"}, {"intake"}),
        ("demo_mediator", "workbench", {"case_new", "ledger", "near_target"}, {"intake", "tickets"}),
        ("demo_admin", "admin", {"smart_dispatch", "imports", "dashboard"}, set()),
        ("demo_steward", "imports", {"conflicts", "registry", "dashboard"}, {"intake"}),
        # the window's day starts at the window, not on the hotline's call pages
        ("window", "window", {"case_new", "intake"}, {"import_calls"}),
    ],
)
def test_each_role_is_led_to_its_work(client, personas, username, first, also, never):
    keys = [key for key, _label, _href in entries(client, personas[username])]
    assert keys[0] == first, keys
    assert also <= set(keys), keys
    assert not never & set(keys), keys


def test_the_work_comes_before_the_jurisdiction(client, city_leader):
    client.force_login(city_leader)
    html = client.get("/").content.decode()
    work = html.index('data-testid="my-work"')
    assert pgettext("home", "My work") in html[work : work + 300]
    assert work < html.index(gettext("My jurisdiction"))
    # the leader's dashboard is one click away, with what it is for
    assert 'href="/analytics/" data-testid="entry-dashboard"' in html


def test_the_citizen_home_is_their_own(client, citizen):
    client.force_login(citizen)
    html = client.get("/").content.decode()
    assert 'data-testid="citizen-home"' in html and 'data-testid="my-work"' not in html


def test_no_home_link_is_refused(client, personas):
    """Every "My work" link opens (200) for the role it is shown to: the views' own checks."""
    for name, user in personas.items():
        for key, _label, href in entries(client, user):
            response = client.get(href, follow=True)
            assert response.status_code == 200, (name, key, href, response.status_code)


def test_the_mediator_sees_their_open_cases_counted(client, assigned_case, world):
    first, second = assigned_case(), assigned_case(title="租金纠纷")
    client.force_login(world.mediator)
    html = client.get("/").content.decode()
    link = re.search(r'data-testid="entry-workbench">.*?</a>', html, re.S).group(0)
    assert re.search(r'data-testid="entry-count">2<', link), link
    # the count is what the workbench lists as theirs
    page = client.get("/disputes/workbench/").content.decode()
    assert first.number in page and second.number in page


def test_the_steward_sees_the_merge_conflicts_counted(client, personas):
    found = entries(client, personas["demo_steward"])
    assert ("conflicts", pgettext("home", "Merge conflicts"), "/registry/conflicts/") in found
    page = client.get("/").content.decode()
    link = re.search(r'data-testid="entry-conflicts">.*?</a>', page, re.S).group(0)
    assert 'data-testid="entry-count">0<' in link


def _queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("username", "extra"),
    # the steward's conflicts and registrations to check: one count each; a window: one check of its centre; the mediator's cases:
    # their organisation, then the count (the workbench's own selector); the rest: nothing
    [("demo_leader", 0), ("demo_steward", 2), ("window", 1), ("demo_hotline", 1), ("demo_mediator", 2)],
)
def test_the_entries_are_cheap(client, personas, monkeypatch, username, extra):
    user = personas[username]
    with_entries = _queries(client, user)
    monkeypatch.setattr(views, "work_entries", lambda user: [])
    assert with_entries - _queries(client, user) <= extra
