"""The REST API answers in its caller's language, with stable codes for every field problem.

An API client has no language switcher: an explicit ``Accept-Language`` is its choice (the web
pages keep ignoring it: tests/web/test_pages.py). Field problems carry our codes (``field.…``)
and translated messages, not the schema library's English.
"""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from ninja.errors import Throttled

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")
PRIVATE = "/api/v1/tickets/"  # needs a signed-in caller: 401


def error(response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize(
    ("header", "english"),
    [("en", True), ("en-US,en;q=0.9", True), ("fr, en;q=0.5", True), ("zh-CN,zh;q=0.9,en;q=0.8", False),
     ("fr", False), ("", False), ("*", False)],
)  # fmt: skip
def test_the_api_speaks_the_language_the_client_accepts(client, header, english):
    response = client.get(PRIVATE, headers={"Accept-Language": header} if header else {})
    assert response.status_code == 401 and error(response)["code"] == "auth.required"
    assert bool(CJK.search(error(response)["message"])) is not english
    assert response["Content-Language"] == ("en" if english else "zh-hans")
    assert "Accept-Language" in response["Vary"]


def test_the_language_cookie_wins_over_the_header(client):
    client.cookies["django_language"] = "zh-hans"
    response = client.get(PRIVATE, headers={"Accept-Language": "en"})
    assert CJK.search(error(response)["message"])


def test_web_pages_still_ignore_the_header(client):
    html = client.get("/login/", headers={"Accept-Language": "en"}).content.decode()
    assert "登录" in html


def test_field_problems_have_our_codes_and_translated_messages(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    api = client
    chinese = error(api.get(PRIVATE, {"limit": "many"}))
    assert chinese["fields"][0]["field"] == "limit"
    assert chinese["fields"][0]["code"] == "field.not_an_integer"
    assert chinese["fields"][0]["message"] == "请输入整数。"
    assert chinese["fields"][0]["type"] == "int_parsing"  # the library's own name, for debugging
    english = error(api.get(PRIVATE, {"limit": "many"}, headers={"Accept-Language": "en"}))
    assert english["fields"][0]["message"] == "Enter a whole number."


def test_a_missing_field_and_a_bound_name_the_rule(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    api = client
    bound = error(api.get(PRIVATE, {"limit": 0}, headers={"Accept-Language": "en"}))
    assert bound["fields"][0]["code"] == "field.too_small"
    assert bound["fields"][0]["message"] == "Enter a value of at least 1."
    missing = api.post("/api/v1/tickets/public/lookup", {"number": "ZW1"}, content_type="application/json")
    field = next(f for f in error(missing)["fields"] if f["field"] == "phone")
    assert (field["code"], field["message"]) == ("field.required", "此字段为必填项。")


def test_an_unreadable_body_is_our_error_in_the_callers_language(client):
    response = client.post(
        "/api/v1/tickets/public/lookup", "{not json", content_type="application/json",
        headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert response.status_code == 400
    assert error(response)["code"] == "request.unreadable"
    assert error(response)["message"] == "The request body could not be read: send JSON."


def test_a_throttled_call_says_when_to_come_back():
    from zhiwang.api import http_error

    request = RequestFactory().get("/api/v1/tickets/public/lookup")
    response = http_error(request, Throttled(wait=42))
    assert response.status_code == 429 and response["Retry-After"] == "42"
    assert error_body(response)["code"] == "request.throttled"


def error_body(response) -> dict:
    import json

    return json.loads(response.content)["error"]
