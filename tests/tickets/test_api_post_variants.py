"""``POST /tickets/categories/suggest`` and ``POST /tickets/history/address``: the text and the
address in the body, never in a URL (proxy and access logs, browser history, Referer).

Each answers exactly what its GET answers (one implementation): the same result, the same
error codes, the same jurisdiction. The GETs stay, marked deprecated. A POST is a write for the
API's CSRF rule: with a bearer token no CSRF token is needed; from a web session it is.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.tickets.conftest import RUBBISH
from zhiwang.accounts.services import api_token_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets"
SUGGEST = f"{URL}/categories/suggest"
HISTORY = f"{URL}/history/address"
#: A code of the form of the demo city's room codes that no address has.
NO_SUCH_CODE = "440303008010-99999"
WORDS = "我是张三，电话13812345678，小区门口垃圾堆了好几天没人清运"


def post(client, path, body, **extra):
    return client.post(path, body, content_type="application/json", **extra)


def error_of(response) -> tuple[int, str, str | None]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["field"]


# --- the suggestions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "asked",
    [
        {"text": WORDS},
        {"text": WORDS, "kind": "complaint"},
        {"text": "井盖丢了很危险", "kind": "incident", "limit": 2},
        {"text": "路灯坏了", "limit": 0},  # clamped to 1
        {"text": "路灯坏了", "limit": 500},  # clamped to 20
        {"text": "   "},
    ],
)
def test_suggest_by_post_answers_what_the_get_does(as_user, hotline, asked):
    api = as_user(hotline)
    by_get = api.get(SUGGEST, asked)
    by_post = post(api, SUGGEST, asked)
    assert by_post.status_code == by_get.status_code == 200
    assert by_post.json() == by_get.json()
    if asked.get("limit") == 0:
        assert len(by_post.json()) == 1


def test_suggest_by_post_finds_the_category(as_user, hotline):
    found = post(as_user(hotline), SUGGEST, {"text": WORDS, "kind": "complaint"}).json()
    assert RUBBISH in [s["code"] for s in found]
    assert all(s["unit"] is not None for s in found)


def test_suggest_errors_carry_the_same_codes(as_user, nanshan_dispatcher):
    api = as_user(nanshan_dispatcher)
    # a text longer than a ticket keeps: 400 tickets.text_long, field text, the same message
    long_get = api.get(SUGGEST, {"text": "井" * 4201})
    long_post = post(api, SUGGEST, {"text": "井" * 4201})
    assert error_of(long_post) == error_of(long_get) == (400, "tickets.text_long", "text")
    assert long_post.json() == long_get.json()
    assert post(api, SUGGEST, {"text": "井" * 4200}).status_code == 200
    # no text at all, a limit that is no number: 422 request.invalid naming the field
    for body, field in (({}, "text"), ({"text": "路灯", "limit": "many"}, "limit")):
        by_get, by_post = api.get(SUGGEST, body), post(api, SUGGEST, body)
        assert error_of(by_post) == error_of(by_get) == (422, "request.invalid", field)
        assert [f["code"] for f in by_post.json()["error"]["fields"]] == [
            f["code"] for f in by_get.json()["error"]["fields"]
        ]
    # a body that is no JSON object
    assert post(api, SUGGEST, "not json").status_code in (400, 422)


def test_suggest_by_post_needs_a_sign_in_as_the_get():
    anonymous = Client()
    assert error_of(post(anonymous, SUGGEST, {"text": WORDS}))[:2] == (401, "auth.required")
    assert error_of(anonymous.get(SUGGEST, {"text": WORDS}))[:2] == (401, "auth.required")


# --- the address history ---------------------------------------------------------------------------


def test_history_by_post_answers_what_the_get_does(
    as_user, hotline, make_ticket, nanshan_building, nanshan_room
):
    tickets = [make_ticket(address_code=nanshan_room.code), make_ticket()]
    api = as_user(hotline)
    for asked in (
        {"address_code": nanshan_building.code},
        {"address_code": nanshan_building.code, "limit": 1},
        {"address_code": nanshan_building.code, "limit": 0},  # clamped to 1
        {"address_text": nanshan_building.full_name},
        {"address_text": nanshan_room.full_name, "limit": 99},
        {"address_text": "火星殖民地第九大道"},
        {},
    ):
        by_get = api.get(HISTORY, asked)
        by_post = post(api, HISTORY, asked)
        assert by_post.status_code == by_get.status_code == 200, asked
        assert by_post.json() == by_get.json(), asked
    by_code = post(api, HISTORY, {"address_code": nanshan_building.code}).json()
    assert by_code["address"] == {"code": nanshan_building.code, "full_name": nanshan_building.full_name}
    assert sorted(t["number"] for t in by_code["tickets"]) == sorted(t.number for t in tickets)
    assert len(post(api, HISTORY, {"address_code": nanshan_building.code, "limit": 0}).json()["tickets"]) == 1
    assert "13800138000" not in post(api, HISTORY, {"address_code": nanshan_building.code}).content.decode()


@pytest.mark.parametrize("who", ["sub_handler", "grid_worker"])
def test_history_by_post_outside_the_jurisdiction_answers_like_not_found(
    request, as_user, who, make_ticket, luohu_building
):
    make_ticket(address_code=luohu_building.code)  # a Luohu ticket the answer must not hint at
    api = as_user(request.getfixturevalue(who))
    outside = post(api, HISTORY, {"address_code": luohu_building.code})
    missing = post(api, HISTORY, {"address_code": NO_SUCH_CODE})
    assert error_of(outside) == error_of(missing) == (404, "not_found", None)
    assert outside.json() == missing.json() == api.get(HISTORY, {"address_code": luohu_building.code}).json()
    assert luohu_building.full_name not in outside.content.decode()
    # a text naming a place inside does not rescue an outside code
    both = post(api, HISTORY, {"address_code": luohu_building.code, "address_text": "南山区某处"})
    assert both.status_code == 404
    # a text naming a place outside: like a text naming none
    by_text = post(api, HISTORY, {"address_text": luohu_building.full_name})
    nowhere = post(api, HISTORY, {"address_text": "火星殖民地第九大道"})
    assert by_text.status_code == nowhere.status_code == 200
    assert by_text.json() == nowhere.json() == {"address": None, "tickets": []}


def test_history_by_post_inside_the_jurisdiction_and_city_wide(
    as_user, sub_handler, hotline, make_ticket, nanshan_building, luohu_building
):
    here = make_ticket()
    inside = post(as_user(sub_handler), HISTORY, {"address_code": nanshan_building.code})
    assert inside.status_code == 200 and [t["number"] for t in inside.json()["tickets"]] == [here.number]
    there = make_ticket(address_code=luohu_building.code)
    city = post(as_user(hotline), HISTORY, {"address_text": luohu_building.full_name}).json()
    assert city["address"]["code"] == luohu_building.code
    assert [t["number"] for t in city["tickets"]] == [there.number]


def test_history_errors_carry_the_same_codes(as_user, nanshan_dispatcher, citizen):
    api = as_user(nanshan_dispatcher)
    long_get = api.get(HISTORY, {"address_text": "井" * 256})
    long_post = post(api, HISTORY, {"address_text": "井" * 256})
    assert error_of(long_post) == error_of(long_get) == (400, "tickets.address_text_long", "address_text")
    assert long_post.json() == long_get.json()
    assert post(api, HISTORY, {"address_text": "井" * 255}).status_code == 200
    bad_get = api.get(HISTORY, {"limit": "many"})
    bad_post = post(api, HISTORY, {"limit": "many"})
    assert error_of(bad_post) == error_of(bad_get) == (422, "request.invalid", "limit")
    # only staff look addresses up: a citizen gets 403 auth.forbidden either way
    refused_get = as_user(citizen).get(HISTORY, {"address_text": "科苑大道"})
    refused_post = post(as_user(citizen), HISTORY, {"address_text": "科苑大道"})
    assert error_of(refused_post) == error_of(refused_get) == (403, "auth.forbidden", None)


# --- CSRF: a token needs none, a web session does ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [(SUGGEST, {"text": WORDS, "kind": "complaint"}), (HISTORY, {"address_text": "科苑大道"})],
)
def test_a_bearer_token_posts_without_csrf(hotline, path, body):
    key = api_token_create(user=hotline, name="intake desk").key
    client = Client(enforce_csrf_checks=True)
    by_token = post(client, path, body, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert by_token.status_code == 200
    session = Client()
    session.force_login(hotline)
    assert by_token.json() == post(session, path, body).json()


@pytest.mark.parametrize(
    ("path", "body"),
    [(SUGGEST, {"text": WORDS, "kind": "complaint"}), (HISTORY, {"address_text": "科苑大道"})],
)
def test_a_web_session_posts_with_its_csrf_token(hotline, path, body):
    client = Client(enforce_csrf_checks=True)
    client.force_login(hotline)
    refused = post(client, path, body)
    assert error_of(refused)[:2] == (403, "auth.csrf")
    client.get("/intake/")  # a page of the site sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert post(client, path, body, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_an_unknown_token_is_refused_as_on_the_other_api_posts():
    """A token that was sent and is unknown is the answer (401), never a fall-back to the session
    and its CSRF check (which made it a puzzling 403 ``auth.csrf``)."""
    client = Client(enforce_csrf_checks=True)
    bad = {"HTTP_AUTHORIZATION": "Bearer zw_nothing"}
    caller = post(client, f"{URL}/history/caller", {"phone": "13812345678"}, **bad)
    assert error_of(caller)[:2] == (401, "auth.required")
    for path, body in ((SUGGEST, {"text": WORDS}), (HISTORY, {"address_text": "科苑大道"})):
        assert post(client, path, body, **bad).json() == caller.json()


# --- the OpenAPI document ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "typed", "summary"),
    [
        ("/api/v1/tickets/categories/suggest", "text", "Categories suggested for a text"),
        ("/api/v1/tickets/history/address", "address_text", "Earlier tickets at an address"),
    ],
)
def test_the_gets_are_marked_deprecated(path, typed, summary):
    from zhiwang.api import api

    operations = api.get_openapi_schema()["paths"][path]
    assert operations["get"].get("deprecated") is True
    assert operations["get"]["summary"] == f"{summary} (deprecated: use POST)"
    assert not operations["post"].get("deprecated")
    assert operations["post"]["summary"] == f"{summary} (in the body)"
    assert typed not in {p["name"] for p in operations["post"].get("parameters", [])}
    assert "requestBody" in operations["post"]
