"""Company names, credit codes and addresses travel in POST bodies too.

``POST /registry/entities/search`` and ``POST /registry/places/match`` answer exactly what the
deprecated ``GET /registry/entities?q=`` and ``GET /registry/places/match?q=`` answer (one
implementation each): same rows, same scoping (a place outside the jurisdiction answers like no
match), same roles (``services.may_read``; any other role is 403). ``POST /registry/entities``
still registers an entity. The registry pages send every search text by POST and render it in
no URL.
"""

from __future__ import annotations

import random
import re
from urllib.parse import quote, quote_plus

import pytest
from django.test import Client
from django.urls import reverse

from zhiwang.accounts.models import User
from zhiwang.registry import services
from zhiwang.registry.demo import make_credit_code
from zhiwang.registry.models import LegalEntity, Residence

URL_ATTRIBUTES = re.compile(r'\b(?:href|action|src|hx-(?:get|post|put|patch|delete))="([^"]*)"')
FORBIDDEN = "auth.forbidden"


@pytest.fixture
def client_for(db):
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def resident(registry_demo, grid_worker):
    """A current residence in the grid worker's grids (Nanshan: the Nanshan dispatcher sees it)."""
    return (
        Residence.objects.filter(grid_id__in=grid_worker.scope.grid_ids, until__isnull=True)
        .select_related("person", "address")
        .order_by("pk")
        .first()
    )


@pytest.fixture
def entity(registry_demo, grid_worker):
    return (
        LegalEntity.objects.filter(grid_id__in=grid_worker.scope.grid_ids)
        .exclude(name="")
        .order_by("pk")
        .first()
    )


def _post(client, path: str, body: dict):
    return client.post(path, body, content_type="application/json")


def _error(answer) -> str:
    return answer.json()["error"]["code"]


# --- entities ------------------------------------------------------------------------------


def test_entity_search_by_post_answers_what_the_get_did(client_for, nanshan_dispatcher, entity):
    client = client_for(nanshan_dispatcher)
    for q in (entity.name, entity.name[:2], entity.credit_code, entity.credit_code.lower(), ""):
        by_get = client.get("/api/v1/registry/entities", {"q": q})
        by_post = _post(client, "/api/v1/registry/entities/search", {"q": q})
        assert by_post.status_code == by_get.status_code == 200
        assert by_post.json() == by_get.json()
        assert by_post["X-Result-Truncated"] == by_get["X-Result-Truncated"]
        if q:
            assert entity.pk in [e["id"] for e in by_post.json()], q
    few = _post(client, "/api/v1/registry/entities/search", {"q": entity.name[:1], "limit": 1})
    assert few.status_code == 200 and len(few.json()) == 1
    assert few.json() == client.get("/api/v1/registry/entities", {"q": entity.name[:1], "limit": 1}).json()
    for limit in (0, 201):
        too_many = _post(client, "/api/v1/registry/entities/search", {"q": entity.name, "limit": limit})
        assert too_many.status_code == 422, limit


def test_entity_search_by_post_is_scoped(client_for, luohu_dispatcher, nanshan_dispatcher, entity):
    for q in (entity.name, entity.credit_code):
        outside = _post(client_for(luohu_dispatcher), "/api/v1/registry/entities/search", {"q": q})
        assert outside.status_code == 200 and entity.pk not in [e["id"] for e in outside.json()]
        assert (
            outside.json() == client_for(luohu_dispatcher).get("/api/v1/registry/entities", {"q": q}).json()
        )
    inside = _post(
        client_for(nanshan_dispatcher), "/api/v1/registry/entities/search", {"q": entity.credit_code}
    )
    assert [e["id"] for e in inside.json()] == [entity.pk]


def test_registering_an_entity_is_still_post_entities(client_for, steward, home_room):
    code = make_credit_code("440305", random.Random(11))
    client = client_for(steward)
    created = _post(
        client,
        "/api/v1/registry/entities",
        {"credit_code": code, "name": "深圳市测帖科技有限公司", "address": home_room.code},
    )
    assert created.status_code == 201 and created.json()["credit_code"] == code
    assert LegalEntity.objects.filter(credit_code=code).exists()
    again = _post(
        client, "/api/v1/registry/entities", {"credit_code": code, "name": "深圳市测帖科技有限公司"}
    )
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    # a search body is not a registration (and the search registers nothing)
    found = _post(client, "/api/v1/registry/entities/search", {"q": code})
    assert found.status_code == 200 and [e["credit_code"] for e in found.json()] == [code]
    assert LegalEntity.objects.filter(credit_code=code).count() == 1
    # and a registration body without a name is the registration's error, not a search
    assert _post(client, "/api/v1/registry/entities", {"q": code}).status_code == 422


def test_the_entity_paths_next_to_the_search_still_work(client_for, steward, entity):
    client = client_for(steward)
    assert client.get(f"/api/v1/registry/entities/{entity.pk}").json()["id"] == entity.pk
    # GET /entities/search is not an entity id (the search is POST only)
    assert client.get("/api/v1/registry/entities/search").status_code in (404, 405, 422)


# --- places --------------------------------------------------------------------------------


def test_place_match_by_post_answers_what_the_get_did(client_for, nanshan_dispatcher, resident):
    address = resident.address
    client = client_for(nanshan_dispatcher)
    for q in (address.full_name, address.code, "不存在的地方街999号"):
        by_get = client.get("/api/v1/registry/places/match", {"q": q})
        by_post = _post(client, "/api/v1/registry/places/match", {"q": q})
        assert by_post.status_code == by_get.status_code == 200
        assert by_post.json() == by_get.json()
    found = _post(client, "/api/v1/registry/places/match", {"q": address.full_name}).json()
    assert found["address"]["code"] == address.code


def test_a_place_outside_the_jurisdiction_answers_like_no_match_by_post(
    client_for, luohu_dispatcher, nanshan_dispatcher, resident
):
    address = resident.address
    client = client_for(luohu_dispatcher)
    nothing = _post(client, "/api/v1/registry/places/match", {"q": "不存在的地方街999号"}).json()
    outside = _post(client, "/api/v1/registry/places/match", {"q": address.full_name})
    assert outside.status_code == 200
    assert outside.json() == nothing
    assert outside.json()["address"] is None and outside.json()["division"] is None
    assert outside.json() == client.get("/api/v1/registry/places/match", {"q": address.full_name}).json()
    assert address.code not in outside.content.decode()
    # the same text inside the jurisdiction is a match: the answer above was the scope's
    inside = _post(client_for(nanshan_dispatcher), "/api/v1/registry/places/match", {"q": address.full_name})
    assert inside.json()["address"]["code"] == address.code


def test_place_match_by_post_needs_its_text(client_for, nanshan_dispatcher):
    client = client_for(nanshan_dispatcher)
    assert _post(client, "/api/v1/registry/places/match", {}).status_code == 422
    assert client.get("/api/v1/registry/places/match").status_code == 422


# --- roles ---------------------------------------------------------------------------------

POSTS = {
    "people": "/api/v1/registry/people/search",
    "entities": "/api/v1/registry/entities/search",
    "place_match": "/api/v1/registry/places/match",
}


def _non_readers() -> list[User]:
    """Every demo persona the registry rule refuses (mediator, handler, citizen, …)."""
    refused = [
        u
        for u in User.objects.filter(username__startswith="demo_").order_by("username")
        if not services.may_read(u)
    ]
    assert {"demo_mediator", "demo_handler", "demo_citizen"} <= {u.username for u in refused}
    return refused


@pytest.mark.parametrize("endpoint", sorted(POSTS))
def test_the_posts_refuse_the_roles_that_may_not_read_the_registry(
    client_for, grid_worker, resident, entity, endpoint
):
    q = {"people": resident.person.name, "entities": entity.name, "place_match": resident.address.full_name}[
        endpoint
    ]
    for user in _non_readers():
        answer = _post(client_for(user), POSTS[endpoint], {"q": q})
        assert answer.status_code == 403 and _error(answer) == FORBIDDEN, user.username
        body = answer.content.decode()
        assert resident.person.masked_id_number not in body and resident.address.code not in body
        assert "X-Result-Truncated" not in answer
    answer = _post(client_for(grid_worker), POSTS[endpoint], {"q": q})
    assert answer.status_code == 200, answer.content


def test_the_posts_refuse_a_non_reader_with_the_reveal_permission(client_for, resident, entity):
    from django.contrib.auth.models import Permission

    mediator = User.objects.get(username="demo_mediator")
    mediator.user_permissions.add(Permission.objects.get(codename="reveal_personal_data"))
    mediator = User.objects.get(pk=mediator.pk)
    assert not services.may_read(mediator)
    for path, q in (
        (POSTS["people"], resident.person.id_number),
        (POSTS["entities"], entity.credit_code),
        (POSTS["place_match"], resident.address.full_name),
    ):
        assert _error(_post(client_for(mediator), path, {"q": q})) == FORBIDDEN


def test_the_openapi_document_marks_the_gets_deprecated():
    from zhiwang.api import api

    paths = api.get_openapi_schema()["paths"]
    assert paths["/api/v1/registry/entities"]["get"].get("deprecated") is True
    assert "POST /entities/search" in paths["/api/v1/registry/entities"]["get"]["summary"]
    assert not paths["/api/v1/registry/entities"]["post"].get("deprecated")  # registration
    assert paths["/api/v1/registry/places/match"]["get"].get("deprecated") is True
    assert "POST /places/match" in paths["/api/v1/registry/places/match"]["get"]["summary"]
    for path in ("/api/v1/registry/entities/search", "/api/v1/registry/places/match"):
        post = paths[path]["post"]
        assert not post.get("deprecated")
        assert "q" not in {p["name"] for p in post.get("parameters", [])}
        assert "requestBody" in post


# --- pages ---------------------------------------------------------------------------------


def _urls(html: str) -> list[str]:
    return URL_ATTRIBUTES.findall(html)


def _assert_not_in_urls(answer, *secrets: str) -> None:
    urls = _urls(answer.content.decode()) if answer.get("Content-Type", "").startswith("text/html") else []
    if answer.has_header("Location"):
        urls.append(answer["Location"])
    for url in urls:
        assert "q=" not in url, url
        for secret in secrets:
            for form in {secret, quote(secret), quote_plus(secret)}:
                assert form not in url, url


def test_entity_and_place_searches_on_the_page_post_and_keep_the_text_out_of_urls(
    client_for, nanshan_dispatcher, luohu_dispatcher, resident, entity
):
    client = client_for(nanshan_dispatcher)
    for q in (entity.name, entity.credit_code):
        answer = client.post(reverse("registry:home"), {"q": q, "kind": "entity"})
        html = answer.content.decode()
        assert answer.status_code == 200 and 'data-testid="entity-results"' in html
        form = re.search(r'<form [^>]*data-testid="registry-search"[^>]*>', html).group(0)
        assert 'method="post"' in form
        assert 'method="get"' not in html
        _assert_not_in_urls(answer, q)
    # a place outside the jurisdiction stays on the POST's page, saying no match, without a URL for it
    address = resident.address
    outside = client_for(luohu_dispatcher).post(
        reverse("registry:home"), {"q": address.full_name, "kind": "place"}
    )
    assert outside.status_code == 200 and 'data-testid="place-results"' in outside.content.decode()
    assert address.code not in outside.content.decode()
    _assert_not_in_urls(outside, address.full_name, address.code)


def test_no_registry_page_has_a_form_that_sends_by_get(client_for, steward, resident, entity):
    """The steward's pages (search, person, entity, imports, conflicts) send their fields by POST."""
    client = client_for(steward)
    pages = [
        reverse("registry:home"),
        reverse("registry:person_detail", args=[resident.person.pk]),
        reverse("registry:entity_detail", args=[entity.pk]),
        reverse("registry:import_list"),
        reverse("registry:import_new"),
        reverse("registry:conflicts"),
    ]
    for page in pages:
        answer = client.get(page)
        assert answer.status_code == 200, page
        html = answer.content.decode()
        forms = re.findall(r"<form\b[^>]*>", html)
        for form in forms:
            assert re.search(r'method="post"', form, re.I), (page, form)
        _assert_not_in_urls(answer, resident.person.name, resident.person.id_number, entity.name)
