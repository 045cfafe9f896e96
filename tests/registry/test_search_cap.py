"""A registry search cut at its limit says so: the page with a line above the results, the API with
the answer header ``X-Result-Truncated`` (``true`` / ``false``; the answer stays a bare list).

The searches ask for ``limit + 1`` rows: exactly ``limit`` matches is every match (no line,
``false``), one more is a cut list (the line, ``true``, still ``limit`` rows).
"""

from __future__ import annotations

import random
import re
from datetime import date
from urllib.parse import quote, quote_plus

import pytest
from django.test import Client
from django.urls import reverse

from zhiwang.registry import views
from zhiwang.registry.demo import make_credit_code, make_id_number
from zhiwang.registry.hashing import id_number_hash
from zhiwang.registry.models import LegalEntity, Person

PAGE = views.SEARCH_PAGE_ROWS
#: A surname no demo record carries: only this test's people start with it.
PREFIX = "欧阳测"
ENTITY_TEXT = "测限汇"

URL_ATTRIBUTES = re.compile(r'\b(?:href|action|src|hx-(?:get|post|put|patch|delete))="([^"]*)"')
PEOPLE_LINE = 'data-testid="people-results-truncated"'
ENTITY_LINE = 'data-testid="entity-results-truncated"'


def _people(community, count: int, start: int = 0) -> list[Person]:
    people = []
    for i in range(start, start + count):
        born = date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
        number = make_id_number("440305", born, i, male=i % 2 == 0)
        people.append(
            Person.objects.create(
                id_number=number,
                id_number_hash=id_number_hash(number),
                name=f"{PREFIX}{i:03d}",
                gender="male" if i % 2 == 0 else "female",
                birth_date=born,
                community=community,
            )
        )
    return people


def _entities(community, count: int, seed: int = 7) -> list[LegalEntity]:
    rng = random.Random(seed)
    return [
        LegalEntity.objects.create(
            credit_code=make_credit_code("440305", rng),
            name=f"深圳市{ENTITY_TEXT}{i:03d}有限公司",
            community=community,
        )
        for i in range(count)
    ]


@pytest.fixture
def client_of(db):
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def _assert_not_in_urls(html: str, *secrets: str) -> None:
    for url in URL_ATTRIBUTES.findall(html):
        assert "q=" not in url, url
        for secret in secrets:
            for form in {secret, quote(secret), quote_plus(secret)}:
                assert form not in url, url


def _page(client, q: str, kind: str) -> str:
    answer = client.post(reverse("registry:home"), {"q": q, "kind": kind})
    assert answer.status_code == 200
    return answer.content.decode()


# --- the page ------------------------------------------------------------------------------


def test_the_people_page_says_so_at_more_than_the_limit_and_not_at_it(client_of, steward, home_community):
    client = client_of(steward)
    _people(home_community, PAGE)
    at_limit = client.post(reverse("registry:home"), {"q": PREFIX, "kind": "person"})
    assert len(at_limit.context["people"]) == PAGE and not at_limit.context["people_truncated"]
    assert PEOPLE_LINE not in at_limit.content.decode()
    below = _page(client, f"{PREFIX}00", "person")  # ten of them
    assert PEOPLE_LINE not in below

    _people(home_community, 1, start=PAGE)
    over = client.post(reverse("registry:home"), {"q": PREFIX, "kind": "person"})
    html = over.content.decode()
    assert len(over.context["people"]) == PAGE and over.context["people_truncated"]
    line = re.search(rf"<p [^>]*{PEOPLE_LINE}[^>]*>([^<]*)</p>", html).group(1)
    assert str(PAGE) in line
    # the first PAGE people in name order, the one over the limit left out
    assert [p.name for p in over.context["people"]] == [f"{PREFIX}{i:03d}" for i in range(PAGE)]
    assert f"{PREFIX}{PAGE:03d}" not in html.replace(f'value="{PREFIX}"', "")
    _assert_not_in_urls(html, PREFIX)


def test_the_entity_page_says_so_at_more_than_the_limit_and_not_at_it(client_of, steward, home_community):
    client = client_of(steward)
    _entities(home_community, PAGE)
    at_limit = client.post(reverse("registry:home"), {"q": ENTITY_TEXT, "kind": "entity"})
    assert len(at_limit.context["entities"]) == PAGE and not at_limit.context["entities_truncated"]
    assert ENTITY_LINE not in at_limit.content.decode()

    _entities(home_community, 1, seed=8)
    over = client.post(reverse("registry:home"), {"q": ENTITY_TEXT, "kind": "entity"})
    html = over.content.decode()
    assert len(over.context["entities"]) == PAGE and over.context["entities_truncated"]
    # one line or the other: the scan cap (PostgreSQL, thousands of matches) says more than this one
    assert (ENTITY_LINE in html) is not over.context["entities_capped"]
    _assert_not_in_urls(html, ENTITY_TEXT)


def test_an_old_get_search_says_so_too(client_of, steward, home_community):
    _people(home_community, PAGE + 1)
    answer = client_of(steward).get(reverse("registry:home"), {"q": PREFIX, "kind": "person"})
    assert PEOPLE_LINE in answer.content.decode()


def test_the_line_counts_only_what_the_user_may_see(
    client_of, luohu_dispatcher, home_community, luohu_community
):
    """Matches outside the jurisdiction do not make the list look cut."""
    _people(home_community, 5)
    _people(luohu_community, PAGE, start=100)
    answer = client_of(luohu_dispatcher).post(reverse("registry:home"), {"q": PREFIX, "kind": "person"})
    assert len(answer.context["people"]) == PAGE and not answer.context["people_truncated"]


# --- the API -------------------------------------------------------------------------------


def _post(client, path: str, body: dict):
    return client.post(path, body, content_type="application/json")


@pytest.mark.parametrize(
    ("kind", "post_path", "get_path"),
    [
        ("person", "/api/v1/registry/people/search", "/api/v1/registry/people"),
        ("entity", "/api/v1/registry/entities/search", "/api/v1/registry/entities"),
    ],
)
def test_the_api_header_says_whether_more_matched(
    client_of, steward, home_community, kind, post_path, get_path
):
    make, q = (_people, PREFIX) if kind == "person" else (_entities, ENTITY_TEXT)
    make(home_community, 4)
    client = client_of(steward)
    for limit, truncated in ((3, "true"), (4, "false"), (5, "false")):
        by_post = _post(client, post_path, {"q": q, "limit": limit})
        by_get = client.get(get_path, {"q": q, "limit": limit})
        for answer in (by_post, by_get):
            assert answer.status_code == 200
            assert answer["X-Result-Truncated"] == truncated, (limit, answer.request["REQUEST_METHOD"])
            assert isinstance(answer.json(), list) and len(answer.json()) == min(limit, 4)
        assert by_post.json() == by_get.json()
    # the default limit: exactly 50 is every match, 51 is cut to 50
    make(home_community, PAGE - 4, **({"start": 4} if kind == "person" else {"seed": 9}))
    full = _post(client, post_path, {"q": q})
    assert (len(full.json()), full["X-Result-Truncated"]) == (PAGE, "false")
    make(home_community, 1, **({"start": PAGE} if kind == "person" else {"seed": 10}))
    cut = _post(client, post_path, {"q": q})
    assert (len(cut.json()), cut["X-Result-Truncated"]) == (PAGE, "true")


def test_an_empty_answer_is_not_truncated(client_of, steward):
    answer = _post(client_of(steward), "/api/v1/registry/people/search", {"q": "无此人名"})
    assert answer.json() == [] and answer["X-Result-Truncated"] == "false"


def test_the_header_is_in_the_openapi_document():
    from zhiwang.api import api

    paths = api.get_openapi_schema()["paths"]
    for path, method in (
        ("/api/v1/registry/people/search", "post"),
        ("/api/v1/registry/people", "get"),
        ("/api/v1/registry/entities/search", "post"),
        ("/api/v1/registry/entities", "get"),
    ):
        headers = paths[path][method]["responses"][200].get("headers", {})
        assert "X-Result-Truncated" in headers, (path, method)
        assert paths[path][method]["responses"][200]["content"]  # the list schema is still there
