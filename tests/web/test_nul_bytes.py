"""RejectNulBytesMiddleware: a NUL character (U+0000) anywhere in a request is a 400, not a 500.

PostgreSQL refuses NUL in text (DataError): before the middleware, a NUL in a URL part,
a query parameter or a field ended as a server error wherever it reached a query. The
middleware is not in settings.MIDDLEWARE here: each test puts it where settings.py is to
have it (after ChineseFirstLocaleMiddleware).
"""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart

pytestmark = pytest.mark.django_db

MIDDLEWARE = "zhiwang.web.middleware.RejectNulBytesMiddleware"
MULTIPART = "multipart/form-data; boundary=BoUnDaRy"


@pytest.fixture(autouse=True)
def rejecting(settings):
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("zhiwang.web.middleware.ChineseFirstLocaleMiddleware") + 1, MIDDLEWARE)
    settings.MIDDLEWARE = middleware


def refused(response, field=None) -> dict:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "request.invalid_character"
    assert error["message"]
    assert error["field"] == field
    return error


def not_refused(response) -> None:
    assert b"request.invalid_character" not in response.content
    if response["Content-Type"].startswith("text/plain"):
        assert response.status_code != 400


# --- /api/: JSON -----------------------------------------------------------------------------------


def test_a_nul_in_an_api_url_part_is_refused_before_the_database(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    refused(client.get("/api/v1/tickets/%00"), field="number")  # was a DataError (500) on PostgreSQL


def test_a_nul_in_an_api_query_parameter_is_refused(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    refused(client.get("/api/v1/tickets/", {"category": "GI01\x00"}), field="category")
    refused(client.get("/api/v1/tickets/?%00=1"), field="\\x00")


@pytest.mark.parametrize(
    "body",
    [
        b'{"description": "\\u0000"}',  # the JSON escape
        b'{"description": "a\\\\\\u0000"}',  # an escaped backslash, then the escape
        b'{"description": "a\x00b"}',  # a raw NUL byte
    ],
)
def test_a_nul_in_a_json_body_is_refused(client, body):
    refused(client.post("/api/v1/tickets/", body, content_type="application/json"))
    refused(client.put("/api/v1/tickets/x", body, content_type="application/merge-patch+json"))


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client):
    body = json.dumps({"description": "C:\\u0000"}).encode()  # b'..."C:\\\\u0000"'
    assert b"\\\\u0000" in body
    not_refused(client.post("/api/v1/tickets/", body, content_type="application/json"))


def test_requests_without_nul_pass(client, nanshan_dispatcher):
    assert client.get("/api/v1/tickets/").status_code == 401
    client.force_login(nanshan_dispatcher)
    assert client.get("/api/v1/tickets/", {"category": "GI01"}).status_code == 200
    assert client.get("/api/v1/tickets/?q=%2500").status_code != 400  # "%00" typed as text


# --- pages: a plain 400 ------------------------------------------------------------------------------


def test_a_nul_in_a_form_field_is_a_plain_400(client):
    response = client.post("/login/", {"username": "admin\x00", "password": "x"})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content


def test_a_nul_in_a_page_url_part_is_a_plain_400(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    response = client.get("/divisions/4403%00/")
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_a_nul_in_a_multipart_field_is_refused_but_not_in_a_file(client):
    with_nul = encode_multipart("BoUnDaRy", {"username": "admin\x00", "password": "x"})
    assert client.post("/login/", with_nul, content_type=MULTIPART).status_code == 400
    upload = SimpleUploadedFile("photo.jpg", b"\xff\xd8\x00\x00\x00binary", content_type="image/jpeg")
    with_file = encode_multipart("BoUnDaRy", {"username": "admin", "password": "x", "photo": upload})
    assert client.post("/login/", with_file, content_type=MULTIPART).status_code == 200  # the form again


def test_a_malformed_multipart_body_is_still_a_bad_request_for_the_view(client):
    """The middleware reads multipart fields first; a body Django cannot parse must still fail
    in the view (here Django's 400), not reach it as an empty form."""
    response = client.post("/login/", b"garbage", content_type="multipart/form-data")  # no boundary
    assert response.status_code == 400


# --- Open311 answers NULs itself, in its own format --------------------------------------------------


def test_open311_keeps_its_own_error_format(client):
    response = client.get("/open311/v2/requests/%00.json")
    assert response.status_code == 400
    assert [e["code"] for e in response.json()] == ["open311.invalid_character"]
    response = client.generic("POST", "/open311/v2/requests.json", b"a=b", content_type="multipart/form-data")
    assert response.status_code == 400
    assert [e["code"] for e in response.json()] == ["open311.bad_request"]
