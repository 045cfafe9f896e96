"""A panel loaded as the operator types meets an ended session or a stale CSRF token.

htmx follows a redirect: a 302 to the sign-in page drew that page inside the suggestion box
(its form posted to /intake/, its ``next`` was a POST-only panel URL), and Django's CSRF page
("请设置选项DEBUG=True") was swapped into the panels. Now an htmx request of a signed-out user is
401 (a boosted navigation: ``HX-Redirect`` to the sign-in page, back to the page it came from),
a CSRF failure is ``zhiwang.web.views.csrf_failure`` (a one-line 403 marked for ``tickets.js``
to an htmx request, a page that says what to do to a form), and a plain request still goes to
the sign-in page. The caller panel says a partial number is incomplete, not "none".
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client, RequestFactory, override_settings
from django.utils.crypto import get_random_string

from zhiwang.accounts.models import User
from zhiwang.web.tickets.access import REFUSAL_HEADER
from zhiwang.web.views import csrf_failure

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CSRF_VIEW = "zhiwang.web.views.csrf_failure"
PANELS = {
    "/intake/panels/suggest/": {"description": "楼上噪音扰民", "kind": "complaint"},
    "/intake/panels/caller/": {"reporter_phone": "13812345678"},
    "/intake/panels/place/": {"address_text": "南山区", "category": ""},
}


@pytest.fixture
def hotline(db):
    return User.objects.get(username="demo_hotline")


def _signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


# --- a session that ended --------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PANELS))
def test_a_panel_of_a_signed_out_user_is_401_not_the_sign_in_page(path):
    response = Client().post(path, PANELS[path], **HTMX)
    assert response.status_code == 401
    assert response[REFUSAL_HEADER] == "signed-out"
    assert not response.has_header("Location") and not response.has_header("HX-Redirect")
    body = response.content.decode()
    assert "<form" not in body and "password" not in body
    assert "sign in again in a new tab" in body or "重新登录" in body


def test_a_plain_request_still_goes_to_the_sign_in_page():
    page = Client().get("/intake/")
    assert page.status_code == 302 and page["Location"].startswith("/login/?next=/intake/")
    panel = Client().post("/intake/panels/suggest/", PANELS["/intake/panels/suggest/"])
    assert panel.status_code == 302 and "/login/" in panel["Location"]


def test_a_boosted_navigation_of_a_signed_out_user_goes_to_sign_in_and_back_to_its_page():
    response = Client().post(
        "/tickets/ZW202601010001/",
        {"action": "accept"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_BOOSTED="true",
        HTTP_HX_CURRENT_URL="http://testserver/inbox/?tab=new",
    )
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/login/?next=/inbox/%3Ftab%3Dnew"
    # another site's page is never where the sign-in leads
    other = Client().post(
        "/tickets/ZW202601010001/",
        {},
        HTTP_HX_REQUEST="true",
        HTTP_HX_BOOSTED="true",
        HTTP_HX_CURRENT_URL="https://evil.example/inbox/",
    )
    assert other["HX-Redirect"] == "/login/?next=/"


def test_the_citizens_suggestion_panel_stays_public():
    response = Client().post("/report/panels/suggest/", {"description": "小区门口垃圾没人清运"}, **HTMX)
    assert response.status_code == 200 and not response.has_header(REFUSAL_HEADER)


def test_a_signed_in_user_of_another_role_still_gets_the_forbidden_page():
    citizen = User.objects.filter(role="citizen").first()
    response = _signed_in(citizen).post("/intake/panels/suggest/", PANELS["/intake/panels/suggest/"], **HTMX)
    assert response.status_code == 403 and 'data-testid="forbidden"' in response.content.decode()


# --- a stale CSRF token --------------------------------------------------------------------------


@override_settings(CSRF_FAILURE_VIEW=CSRF_VIEW)
def test_a_panel_with_a_stale_token_gets_one_marked_line(hotline):
    client = _signed_in(hotline, enforce_csrf_checks=True)
    stale = _token(client.get("/intake/").content.decode())
    client.cookies["csrftoken"] = get_random_string(32)  # signed in again in another tab: rotated
    response = client.post(
        "/intake/panels/suggest/", {**PANELS["/intake/panels/suggest/"], "csrfmiddlewaretoken": stale}, **HTMX
    )
    assert response.status_code == 403 and response[REFUSAL_HEADER] == "csrf"
    body = response.content.decode()
    assert body.startswith('<p class="panel-notice" role="alert">')
    assert "DEBUG" not in body and "CSRF" not in body and "<h1" not in body
    # the cookie's token (what tickets.js sends after a sign-in elsewhere) is accepted
    fresh = client.cookies["csrftoken"].value
    ok = client.post(
        "/intake/panels/suggest/", {**PANELS["/intake/panels/suggest/"], "csrfmiddlewaretoken": fresh}, **HTMX
    )
    assert ok.status_code == 200


@override_settings(CSRF_FAILURE_VIEW=CSRF_VIEW)
def test_a_form_with_a_stale_token_gets_a_page_that_says_what_to_do(hotline):
    client = _signed_in(hotline, enforce_csrf_checks=True)
    response = client.post("/intake/", {"description": "x", "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403 and not response.has_header(REFUSAL_HEADER)
    html = response.content.decode()
    assert 'data-testid="csrf-failure"' in html and 'lang="zh-hans"' in html
    assert "DEBUG" not in html and "CSRF" not in html
    assert "Back button" in html or "后退" in html


@override_settings(CSRF_FAILURE_VIEW=CSRF_VIEW)
def test_the_citizens_panel_with_no_csrf_cookie_gets_the_marked_line():
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/report/panels/suggest/", {"description": "垃圾", "csrfmiddlewaretoken": "x" * 64}, **HTMX
    )
    assert response.status_code == 403 and response[REFUSAL_HEADER] == "csrf"


def test_an_api_path_gets_the_apis_json_error():
    request = RequestFactory().post("/api/v1/tickets/")
    response = csrf_failure(request, reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert json.loads(response.content)["error"]["code"] == "auth.csrf"


# --- the pages carry the notices' words -----------------------------------------------------------


def test_the_pages_carry_the_panel_notices_and_mark_their_panels(hotline):
    intake = _signed_in(hotline).get("/intake/").content.decode()
    form = re.search(r'<form method="post" class="intake"[^>]*>', intake).group(0)
    assert "data-notice-signed-out=" in form and "data-notice-expired=" in form
    for panel in ("suggestions", "caller-panel", "place-panel"):
        assert "data-panel" in re.search(rf'<(?:div|section) [^>]*id="{panel}"[^>]*>', intake).group(0)
    report = Client().get("/report/").content.decode()
    assert "data-notice-expired=" in re.search(r'<form [^>]*data-testid="report-form"[^>]*>', report).group(0)


# --- the caller panel and a number typed half-way ------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "incomplete"),
    [("1385", True), ("138123", True), ("1381234567", True), ("13812345678", False), ("", False)],
)
def test_the_caller_panel_says_a_partial_number_is_incomplete(hotline, typed, incomplete):
    response = _signed_in(hotline).post("/intake/panels/caller/", {"reporter_phone": typed}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and response.context["phone_incomplete"] is incomplete
    assert ("The number is not complete yet" in html or "号码不完整" in html) is incomplete
    assert ("None." in html or "无。" in html) is (bool(typed) and not incomplete)
