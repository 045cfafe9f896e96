"""The intake page's caller panel and the caller-history API take the phone in a POST body.

A phone in a URL sits in proxy access logs and browser history, out of reach of the masked
audit log. The panel is loaded with ``hx-post`` (the intake form's CSRF token, nothing else of
the form: ``hx-params``); the API has ``POST /tickets/history/caller`` (the GET stays, deprecated).
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import pytest
from django.test import Client

from zhiwang.accounts.models import User
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.tickets import services
from zhiwang.tickets.models import Ticket
from zhiwang.web.tickets.forms import new_form_token

pytestmark = pytest.mark.django_db

SANITATION = "010214"
PHONE = "13812345678"
PANEL = "/intake/panels/caller/"
API = "/api/v1/tickets/history/caller"
URL_ATTRIBUTES = re.compile(r'\b(?:href|action|src|hx-(?:get|post|put|patch|delete))="([^"]*)"')


def persona(username: str) -> User:
    return User.objects.get(username=username)


@pytest.fixture
def hotline(db):
    return persona("demo_hotline")


@pytest.fixture
def building(grid_worker) -> StandardAddress:
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


@pytest.fixture
def earlier(building, hotline) -> Ticket:
    return services.ticket_submit(
        channel="hotline",
        external_id="call-earlier",
        kind="complaint",
        category=SANITATION,
        description="小区门口垃圾堆放三天没人清理",
        reporter_name="张三",
        reporter_phone=PHONE,
        address_code=building.code,
        actor=hotline,
    ).ticket


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _assert_no_phone_in_urls(response, phone: str = PHONE) -> None:
    urls = URL_ATTRIBUTES.findall(response.content.decode()) if response.content else []
    if response.has_header("Location"):
        urls.append(response["Location"])
    digits = re.sub(r"\D", "", phone)
    for url in urls:
        assert "phone" not in url, url
        for form in {phone, digits, quote(phone), quote_plus(phone)}:
            assert form not in url, url


def _caller_panel_tag(html: str) -> str:
    return re.search(r'<section [^>]*id="caller-panel"[^>]*>', html).group(0)


def test_the_caller_panel_is_loaded_by_post_with_the_forms_token(hotline):
    html = _client(hotline).get("/intake/").content.decode()
    panel = _caller_panel_tag(html)
    assert f'hx-post="{PANEL}"' in panel and "hx-get" not in panel
    # A POST sends the enclosing form too: only the number and the CSRF token go.
    params = re.search(r'hx-params="([^"]*)"', panel).group(1)
    assert {p.strip() for p in params.split(",")} == {"reporter_phone", "csrfmiddlewaretoken"}
    form = html[html.index('data-testid="intake-form"') : html.index(panel)]
    assert 'name="csrfmiddlewaretoken"' in form  # the panel lies inside the form holding the token
    assert f"{PANEL}?" not in html


def test_the_panel_finds_the_caller_by_post_and_refuses_a_get(hotline, earlier):
    client = _client(hotline)
    for typed in (PHONE, "138 1234 5678", "138-1234-5678"):
        assert client.get(PANEL, {"reporter_phone": typed}).status_code == 405
        by_post = client.post(PANEL, {"reporter_phone": typed})
        assert by_post.status_code == 200
        assert [t.pk for t in by_post.context["caller_history"]] == [earlier.pk]
        html = by_post.content.decode()
        assert earlier.number in html and 'data-testid="caller-history"' in html
        assert PHONE not in html  # the panel names tickets, not the number
        _assert_no_phone_in_urls(by_post, typed)


def test_an_empty_or_unknown_number_by_post(hotline, earlier):
    client = _client(hotline)
    empty = client.post(PANEL, {}).content.decode()
    assert 'data-testid="caller-history"' not in empty
    unknown = client.post(PANEL, {"reporter_phone": "13900009999"})
    assert unknown.status_code == 200 and unknown.context["caller_history"] == []


def test_the_panel_post_needs_the_pages_csrf_token(hotline, earlier):
    client = _client(hotline, enforce_csrf_checks=True)
    html = client.get("/intake/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert client.post(PANEL, {"reporter_phone": PHONE}).status_code == 403
    found = client.post(PANEL, {"reporter_phone": PHONE, "csrfmiddlewaretoken": token})
    assert found.status_code == 200 and earlier.number in found.content.decode()


def test_the_panel_post_is_for_operators(citizen, earlier):
    login = Client().post(PANEL, {"reporter_phone": PHONE})
    assert login.status_code == 302 and PHONE not in login["Location"]  # to sign in, without the number
    for user in (citizen, persona("demo_sub_handler")):
        assert _client(user).post(PANEL, {"reporter_phone": PHONE}).status_code == 403


def test_recording_a_call_redirects_without_the_phone(hotline, building):
    data = {
        "reporter_phone": "13712345678",
        "reporter_name": "王五",
        "channel": "hotline",
        "call_id": "",
        "kind": "complaint",
        "description": "楼下垃圾堆放很久了",
        "category": SANITATION,
        "urgency": "normal",
        "address_text": building.full_name,
        "lon": "",
        "lat": "",
        "reply": "",
        "duplicates_seen": "",
        "token": new_form_token(),
        "intent": "dispatch",
    }
    client = _client(hotline)
    response = client.post("/intake/", data)
    assert response.status_code == 302
    _assert_no_phone_in_urls(response, "13712345678")
    # the page the operator lands on (with the banner) carries no number in a URL either
    _assert_no_phone_in_urls(client.get(response["Location"]), "13712345678")


# --- API ---------------------------------------------------------------------------------


def test_api_post_finds_what_the_get_did(hotline, earlier):
    client = _client(hotline)
    by_get = client.get(API, {"phone": "138-1234-5678"})
    by_post = client.post(API, {"phone": "138-1234-5678"}, content_type="application/json")
    assert by_post.status_code == by_get.status_code == 200
    assert by_post.json() == by_get.json()
    assert [t["number"] for t in by_post.json()] == [earlier.number]
    assert PHONE not in by_post.content.decode()  # masked in the answer
    limited = client.post(API, {"phone": PHONE, "limit": 0}, content_type="application/json")
    assert limited.status_code == 200 and len(limited.json()) == 1  # clamped to 1–50, as the GET


def test_api_post_is_refused_to_those_who_never_call_back(citizen, earlier):
    refused = _client(citizen).post(API, {"phone": PHONE}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.forbidden"


def test_api_post_without_a_phone_is_a_422_naming_it(hotline):
    answer = _client(hotline).post(API, {}, content_type="application/json")
    assert answer.status_code == 422


def test_the_get_is_marked_deprecated_in_the_openapi_document():
    from zhiwang.api import api

    operations = api.get_openapi_schema()["paths"]["/api/v1/tickets/history/caller"]
    assert operations["get"].get("deprecated") is True
    assert not operations["post"].get("deprecated")
    assert "phone" not in {p["name"] for p in operations["post"].get("parameters", [])}
