"""Registry searches travel in POST bodies, never in URLs.

A name, ID number or phone in a URL sits in proxy access logs and browser history, which the
registry's own (masked) audit log never sees. The search page and its export POST their text,
the API has ``POST /people/search`` (the GET stays, deprecated), and nothing the answer renders —
a link, a form action, an htmx attribute, a redirect — carries the text.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import pytest
from django.test import Client
from django.urls import reverse

from zhiwang.registry.models import LegalEntity, Person, Residence

URL_ATTRIBUTES = re.compile(r'\b(?:href|action|src|hx-(?:get|post|put|patch|delete))="([^"]*)"')


@pytest.fixture
def client_for(db):
    def make(user, **kwargs):
        client = Client(**kwargs)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def resident(registry_demo, grid_worker):
    """A person with a phone living in the grid worker's grids (the Nanshan dispatcher sees them)."""
    return (
        Residence.objects.filter(
            grid_id__in=grid_worker.scope.grid_ids, until__isnull=True, person__phone__startswith="1"
        )
        .select_related("person", "address")
        .order_by("pk")
        .first()
    )


def _urls(html: str) -> list[str]:
    return URL_ATTRIBUTES.findall(html)


def _assert_not_in_urls(response, *secrets: str) -> None:
    """No URL the answer renders or redirects to carries any of ``secrets`` (or ``q=`` at all)."""
    urls = (
        _urls(response.content.decode()) if response.get("Content-Type", "").startswith("text/html") else []
    )
    if response.has_header("Location"):
        urls.append(response["Location"])
    for url in urls:
        assert "q=" not in url, url
        for secret in secrets:
            for form in {secret, quote(secret), quote_plus(secret)}:
                assert form not in url, url


def test_the_search_form_and_the_export_post(client_for, nanshan_dispatcher, resident):
    page = client_for(nanshan_dispatcher).get(reverse("registry:home")).content.decode()
    form = re.search(r'<form [^>]*data-testid="registry-search"[^>]*>', page).group(0)
    assert 'method="post"' in form and 'action="/registry/"' in form
    assert 'method="get"' not in page  # no registry form sends its fields in a URL
    assert "csrfmiddlewaretoken" in page
    # The results carry the export as a POST form: the text in a hidden field, not in a link.
    html = (
        client_for(nanshan_dispatcher)
        .post(reverse("registry:home"), {"q": resident.person.name, "kind": "person"})
        .content.decode()
    )
    export = re.search(r'<form [^>]*data-testid="export-form"[^>]*>', html).group(0)
    assert 'method="post"' in export and f'action="{reverse("registry:people_export")}"' in export
    assert "export.csv?" not in html


@pytest.mark.parametrize("field", ["id_number", "phone", "name"])
def test_a_post_search_finds_what_the_get_did(client_for, nanshan_dispatcher, resident, field):
    person = resident.person
    q = getattr(person, field)
    client = client_for(nanshan_dispatcher)
    by_get = client.get(reverse("registry:home"), {"q": q, "kind": "person"})
    by_post = client.post(reverse("registry:home"), {"q": q, "kind": "person"})
    assert by_post.status_code == by_get.status_code == 200
    assert by_post.context["people"] == by_get.context["people"]
    assert person in by_post.context["people"]
    html = by_post.content.decode()
    assert 'data-testid="people-results"' in html and person.masked_id_number in html
    # the page echoes what was typed in the search field (and the export's hidden one), nothing more
    shown = html.replace(f'value="{q}"', "")
    assert person.id_number not in shown and person.phone not in shown
    _assert_not_in_urls(by_post, person.id_number, person.phone, person.name)


def test_entity_search_by_post(client_for, steward, registry_demo):
    entity = LegalEntity.objects.order_by("pk").first()
    client = client_for(steward)
    for q in (entity.name, entity.credit_code):
        by_get = client.get(reverse("registry:home"), {"q": q, "kind": "entity"})
        by_post = client.post(reverse("registry:home"), {"q": q, "kind": "entity"})
        assert by_post.status_code == 200 and entity in by_post.context["entities"]
        assert by_post.context["entities"] == by_get.context["entities"]
        _assert_not_in_urls(by_post, q)


def test_a_place_search_by_post_redirects_to_the_code_only(client_for, nanshan_dispatcher, resident):
    address = resident.address
    answer = client_for(nanshan_dispatcher).post(
        reverse("registry:home"), {"q": address.full_name, "kind": "place"}
    )
    assert answer.status_code == 302
    assert answer["Location"] == reverse("web:place_detail", kwargs={"code": address.code})
    _assert_not_in_urls(answer, address.full_name)


def test_the_csrf_token_of_the_page_is_what_the_search_needs(client_for, nanshan_dispatcher, resident):
    client = client_for(nanshan_dispatcher, enforce_csrf_checks=True)
    page = client.get(reverse("registry:home")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = {"q": resident.person.id_number, "kind": "person"}
    assert client.post(reverse("registry:home"), data).status_code == 403  # no token: refused
    found = client.post(reverse("registry:home"), {**data, "csrfmiddlewaretoken": token})
    assert found.status_code == 200 and resident.person in found.context["people"]


def test_the_export_by_post_is_the_get_export(client_for, nanshan_dispatcher, resident):
    client = client_for(nanshan_dispatcher)
    q = resident.person.name
    by_get = client.get(reverse("registry:people_export"), {"q": q})
    by_post = client.post(reverse("registry:people_export"), {"q": q})
    assert by_post.status_code == by_get.status_code == 200
    body = b"".join(by_post.streaming_content).decode()
    assert body == b"".join(by_get.streaming_content).decode()
    assert resident.person.masked_id_number in body and resident.person.id_number not in body


def test_the_search_limit_applies_to_post_searches(client_for, nanshan_dispatcher, resident, monkeypatch):
    from zhiwang.registry.services import audit

    monkeypatch.setattr(audit, "IDENTIFIER_SEARCH_LIMIT", 1)
    client = client_for(nanshan_dispatcher)
    other = Person.objects.exclude(pk=resident.person.pk).exclude(id_number="").order_by("pk").first()
    assert client.post(reverse("registry:home"), {"q": other.id_number}).status_code == 200
    refused = client.post(reverse("registry:home"), {"q": resident.person.id_number, "kind": "person"})
    assert refused.status_code == 429 and 'data-testid="search-error"' in refused.content.decode()
    _assert_not_in_urls(refused, resident.person.id_number)


# --- API ---------------------------------------------------------------------------------


def test_api_post_search_finds_what_the_get_did(client_for, nanshan_dispatcher, resident):
    person = resident.person
    client = client_for(nanshan_dispatcher)
    for q in (person.id_number, person.phone, person.name):
        by_get = client.get("/api/v1/registry/people", {"q": q})
        by_post = client.post("/api/v1/registry/people/search", {"q": q}, content_type="application/json")
        assert by_post.status_code == by_get.status_code == 200
        assert by_post.json() == by_get.json()
        assert person.pk in [p["id"] for p in by_post.json()]
    few = client.post(
        "/api/v1/registry/people/search", {"q": person.name, "limit": 1}, content_type="application/json"
    )
    assert len(few.json()) == 1
    too_many = client.post(
        "/api/v1/registry/people/search", {"q": person.name, "limit": 500}, content_type="application/json"
    )
    assert too_many.status_code == 422


def test_api_post_search_is_scoped_and_role_checked(client_for, luohu_dispatcher, citizen, resident):
    body = {"q": resident.person.id_number}
    outside = client_for(luohu_dispatcher).post(
        "/api/v1/registry/people/search", body, content_type="application/json"
    )
    assert outside.status_code == 200 and outside.json() == []
    refused = client_for(citizen).post(
        "/api/v1/registry/people/search", body, content_type="application/json"
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.forbidden"


def test_the_get_search_is_marked_deprecated_in_the_openapi_document():
    from zhiwang.api import api

    paths = api.get_openapi_schema()["paths"]
    assert paths["/api/v1/registry/people"]["get"].get("deprecated") is True
    assert not paths["/api/v1/registry/people/search"]["post"].get("deprecated")
    assert "q" not in {
        p["name"] for p in paths["/api/v1/registry/people/search"]["post"].get("parameters", [])
    }
