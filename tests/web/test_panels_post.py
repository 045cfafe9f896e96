# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""The as-you-type panels take what was typed in a POST body, never in a URL.

A description names people, places and phones; an address is where somebody lives. In a URL they
sit in proxy and access logs, browser history and Referer headers. The intake page's suggestion
and place panels and the citizen form's suggestion panel are loaded with ``hx-post`` (the form's
CSRF token and only the fields each panel reads: ``hx-params``); a GET is 405.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    RUBBISH,
    SANITATION,
    hotline,
    luohu_building,
    make_ticket,
    nanshan_building,
    nanshan_community,
)
from zhiwang.tickets import selectors
from zhiwang.web.tickets.forms import new_form_token

pytestmark = pytest.mark.django_db

SUGGEST = "/intake/panels/suggest/"
PLACE = "/intake/panels/place/"
REPORT_SUGGEST = "/report/panels/suggest/"
#: What a caller says, with a name and a phone in it.
WORDS = "我是张三，电话13812345678，小区门口垃圾堆了好几天没人清运"
URL_ATTRIBUTES = re.compile(r'\b(?:href|action|src|hx-(?:get|post|put|patch|delete))="([^"]*)"')


def _client(user=None, **kwargs) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def _tag(html: str, element_id: str) -> str:
    return re.search(rf'<(?:div|section) [^>]*id="{element_id}"[^>]*>', html).group(0)


def _params(tag: str) -> set[str]:
    return {p.strip() for p in re.search(r'hx-params="([^"]*)"', tag).group(1).split(",")}


def _assert_not_in_urls(html: str, *texts: str) -> None:
    for url in URL_ATTRIBUTES.findall(html):
        for text in texts:
            for form in {text, quote(text), quote_plus(text)}:
                assert form not in url, url


def _suggestions_html(text: str, kind: str, public: bool = False) -> str:
    """The panel as the GET rendered it, from the selectors it read."""
    with translation.override("zh-hans"):
        context = {
            "suggestions": selectors.shown_suggestions(selectors.category_suggestions(text=text, kind=kind))
        }
        if public:
            context["public"] = True
        return render_to_string("web/tickets/_suggestions.html", context)


# --- the pages load the panels by POST --------------------------------------------------------------


def test_the_intake_panels_are_loaded_by_post_with_the_forms_token(hotline):
    html = _client(hotline).get("/intake/").content.decode()
    assert "hx-get" not in html
    suggest, place = _tag(html, "suggestions"), _tag(html, "place-panel")
    assert f'hx-post="{SUGGEST}"' in suggest and f'hx-post="{PLACE}"' in place
    # a POST sends the enclosing form too: each panel takes only what it reads (and the token)
    assert _params(suggest) == {"description", "kind", "csrfmiddlewaretoken"}
    assert _params(place) == {"address_text", "category", "lon", "lat", "csrfmiddlewaretoken"}
    form = html[html.index('data-testid="intake-form"') : html.index(suggest)]
    assert 'name="csrfmiddlewaretoken"' in form
    # the debounced triggers are those the GET had
    assert "input changed delay:400ms from:#id_description" in suggest and "change from:#id_kind" in suggest
    for trigger in ("input changed delay:700ms from:#id_address_text", "change from:#id_category"):
        assert trigger in place
    assert f"{SUGGEST}?" not in html and f"{PLACE}?" not in html


def test_the_citizen_form_loads_its_suggestions_by_post_without_the_photos():
    html = Client().get("/report/").content.decode()
    assert "hx-get" not in html
    suggest = _tag(html, "suggestions")
    assert f'hx-post="{REPORT_SUGGEST}"' in suggest
    # the form is multipart with photos: none of them, nor the name and phone, go with the panel
    assert _params(suggest) == {"description", "kind", "csrfmiddlewaretoken"}
    assert "input changed delay:500ms from:#id_description" in suggest
    form = html[html.index('data-testid="report-form"') : html.index(suggest)]
    assert 'name="csrfmiddlewaretoken"' in form


# --- GET is refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SUGGEST, PLACE, REPORT_SUGGEST])
def test_a_get_is_405_for_everybody(hotline, path):
    typed = {"description": WORDS, "kind": "complaint", "address_text": "科苑大道118号"}
    for client in (_client(hotline), _client()):
        refused = client.get(path, typed)
        assert refused.status_code == 405
        assert refused["Allow"] == "POST"
        assert "张三" not in refused.content.decode()


# --- a POST shows what the GET showed ---------------------------------------------------------------


def test_the_intake_suggestions_by_post(hotline):
    answer = _client(hotline).post(SUGGEST, {"description": WORDS, "kind": "complaint"})
    assert answer.status_code == 200
    html = answer.content.decode()
    assert f'data-pick-category="{RUBBISH}"' in html
    assert html == _suggestions_html(WORDS, "complaint")
    assert "→" in html  # the operator sees where it would go
    _assert_not_in_urls(html, WORDS, "13812345678")
    assert "13812345678" not in html and "张三" not in html
    # nothing typed: no chips, and no error
    empty = _client(hotline).post(SUGGEST, {})
    assert empty.status_code == 200 and "data-pick-category" not in empty.content.decode()


def test_the_citizen_suggestions_by_post():
    answer = Client().post(REPORT_SUGGEST, {"description": WORDS, "kind": "complaint"})
    assert answer.status_code == 200
    html = answer.content.decode()
    assert f'data-pick-category="{RUBBISH}"' in html
    assert html == _suggestions_html(WORDS, "complaint", public=True)
    assert "→" not in html  # the routing is the city's, not the citizen's
    assert "13812345678" not in html and "张三" not in html


def test_the_citizen_panel_still_reads_only_the_first_500_characters():
    near = Client().post(REPORT_SUGGEST, {"description": "井盖丢了" + "x" * 3000, "kind": "incident"})
    far = Client().post(REPORT_SUGGEST, {"description": "x" * 500 + "井盖丢了", "kind": "incident"})
    assert near.status_code == far.status_code == 200
    assert 'data-pick-category="GI0201"' in near.content.decode()
    assert 'data-pick-category="GI0201"' not in far.content.decode()
    # a kind longer than any kind is cut too, never an error
    assert Client().post(REPORT_SUGGEST, {"description": "井盖丢了", "kind": "x" * 5000}).status_code == 200


def test_the_place_panel_by_post_is_the_pages_own_panel(hotline, make_ticket, nanshan_building):
    """The intake page, sent with a duplicate unseen, shows the place panel beside the form: the
    panel loaded by POST for the same place is that very panel."""
    earlier = make_ticket()
    client = _client(hotline)
    typed = {"address_text": nanshan_building.full_name, "category": SANITATION, "lon": "", "lat": ""}
    page = client.post(
        "/intake/",
        {
            "reporter_phone": "13712345678",
            "reporter_name": "王五",
            "channel": "hotline",
            "call_id": "",
            "kind": "complaint",
            "description": "楼下垃圾堆放很久了",
            "urgency": "normal",
            "reply": "",
            "duplicates_seen": "",
            "token": new_form_token(),
            "intent": "dispatch",
            **typed,
        },
    )
    assert page.status_code == 200  # held back: a possible duplicate
    html = page.content.decode()
    start = html.index(">", html.index('id="place-panel"')) + 1
    on_page = html[start : html.index("</section>", start)]
    panel = client.post(PLACE, typed)
    assert panel.status_code == 200
    assert panel.content.decode() == on_page
    assert earlier.number in on_page and 'data-testid="duplicates"' in on_page
    assert 'data-testid="address-history"' in on_page
    _assert_not_in_urls(panel.content.decode(), nanshan_building.full_name)


def test_the_place_panel_by_post_keeps_the_jurisdiction(
    subdistrict_dispatcher, hotline, make_ticket, luohu_building, nanshan_building
):
    make_ticket(address_code=luohu_building.code)  # open there: the check would find it
    client = _client(subdistrict_dispatcher)
    outside = client.post(PLACE, {"address_text": luohu_building.full_name, "category": SANITATION})
    unknown = client.post(PLACE, {"address_text": "火星基地一号楼", "category": SANITATION})
    assert outside.status_code == unknown.status_code == 200
    assert outside.content == unknown.content  # answered like a place the city does not know
    assert outside.context["matched_address"] is None
    assert luohu_building.full_name not in outside.content.decode()
    inside = client.post(PLACE, {"address_text": nanshan_building.full_name, "category": SANITATION})
    assert inside.context["matched_address"] == nanshan_building
    assert 'data-testid="duplicates-none"' in inside.content.decode()
    # the city's 12345 operators keep the whole city
    city = _client(hotline).post(PLACE, {"address_text": luohu_building.full_name, "category": SANITATION})
    assert city.context["matched_address"] == luohu_building
    assert 'data-testid="duplicates"' in city.content.decode()


def test_the_place_panel_reads_a_pin_as_before(hotline, nanshan_building):
    assert nanshan_building.lon is not None and nanshan_building.lat is not None
    pin = {"category": SANITATION, "lon": str(nanshan_building.lon), "lat": str(nanshan_building.lat)}
    pinned = _client(hotline).post(PLACE, pin)
    assert pinned.status_code == 200
    assert pinned.context["duplicates_how"] == "checked"  # a pin alone is a place: it looked
    broken = _client(hotline).post(PLACE, {**pin, "lon": "east"})
    assert broken.status_code == 200 and broken.context["duplicates_how"] == "need_fields"


# --- who may post, and the CSRF token -----------------------------------------------------------------


def test_the_intake_panels_need_the_pages_csrf_token(hotline, nanshan_building):
    client = _client(hotline, enforce_csrf_checks=True)
    html = client.get("/intake/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    for path, data in (
        (SUGGEST, {"description": WORDS, "kind": "complaint"}),
        (PLACE, {"address_text": nanshan_building.full_name, "category": SANITATION}),
    ):
        assert client.post(path, data).status_code == 403
        assert client.post(path, {**data, "csrfmiddlewaretoken": token}).status_code == 200


def test_an_anonymous_citizen_posts_with_the_report_forms_token():
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.9")
    html = client.get("/report/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    data = {"description": WORDS, "kind": "complaint"}
    assert client.post(REPORT_SUGGEST, data).status_code == 403
    found = client.post(REPORT_SUGGEST, {**data, "csrfmiddlewaretoken": token})
    assert found.status_code == 200 and f'data-pick-category="{RUBBISH}"' in found.content.decode()


def test_the_intake_panels_are_for_operators(citizen, nanshan_building):
    for path, data in (
        (SUGGEST, {"description": WORDS}),
        (PLACE, {"address_text": nanshan_building.full_name}),
    ):
        login = Client().post(path, data)
        assert login.status_code == 302
        assert "张三" not in login["Location"] and quote(nanshan_building.full_name) not in login["Location"]
        assert _client(citizen).post(path, data).status_code == 403


def test_the_public_suggestion_panel_is_limited_per_address(settings):
    """The panel runs the classifier for anyone: past the hourly limit of an address it answers
    empty (the form itself still works), other addresses are untouched."""
    from django.core.cache import cache

    cache.clear()
    settings.ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR = 2
    body = {"description": WORDS, "kind": "complaint"}
    one = Client(REMOTE_ADDR="203.0.113.7")
    answers = [one.post(REPORT_SUGGEST, body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [f'data-pick-category="{RUBBISH}"' in a.content.decode() for a in answers] == [True, True, False]
    assert answers[2].content == b""
    other = Client(REMOTE_ADDR="203.0.113.8").post(REPORT_SUGGEST, body)
    assert f'data-pick-category="{RUBBISH}"' in other.content.decode()
    cache.clear()
