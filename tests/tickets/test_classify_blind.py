"""Texts the model knows nothing about ("blind": its uniform answer) are no suggestion.

English, punctuation or digits only: the model gives every label the same probability,
so its "top" label is just the first code. Such a text must reach the keywords and, when
they find nothing, the documented refusal; it is never filed under that first code.
"""

# ruff: noqa: F811 (pytest fixtures imported from test_classify_fixtures)
from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.tickets.test_classify_fixtures import (  # noqa: F401 (fixtures)
    active_model,
    model_dir,
    tiny_trained,
)
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import selectors
from zhiwang.tickets.classify import classify, model_suggestions
from zhiwang.tickets.models import CategorySource, Ticket
from zhiwang.tickets.services import ticket_submit

pytestmark = pytest.mark.django_db
BLIND_TEXTS = ["hello, the street light is broken", "？？？？？？", "12345678"]
STREET_LIGHT = "GI0202"  # 路灯不亮; its keyword 路灯 is a word the tiny model never saw


def submit(address, description):
    return ticket_submit(
        channel="api", kind="complaint", category=None, description=description, address_code=address.code
    )


@pytest.mark.parametrize("text", BLIND_TEXTS)
def test_a_text_the_model_knows_nothing_about_is_refused(active_model, nanshan_building, text):
    with pytest.raises(ServiceError) as exc:
        submit(nanshan_building, text)
    assert exc.value.code == "tickets.invalid"
    assert "category" in {e.field for e in exc.value.fields}
    assert not Ticket.objects.exists()


def test_a_blind_model_leaves_the_category_to_the_keywords(active_model, nanshan_building):
    ticket = submit(nanshan_building, "the 路灯 outside is broken").ticket
    assert ticket.category.code == STREET_LIGHT
    assert ticket.category_source == CategorySource.KEYWORDS
    record = ticket.classification
    assert record["blind"] is True and record["choices"] == []
    assert record["model"] == "category v1" and record["decision"] == "queue"


def test_classify_of_a_blind_text_applies_no_category(active_model):
    result = classify(title="", description="hello world", kind="complaint", category=None)
    assert result.category is None
    assert result.suggestion is not None and result.suggestion.blind and result.suggestion.choices == []


def test_blind_suggestions_keep_their_place_in_a_batch(active_model):
    known, blind = model_suggestions(["小区门口垃圾堆了好几天没人清运", "hello world"])
    assert not known.blind and known.choices
    assert blind.blind and blind.choices == [] and blind.label == "" and blind.confidence == 0.0


@pytest.mark.parametrize("text", BLIND_TEXTS)
def test_the_suggestion_panel_shows_no_blind_model_guess(active_model, text):
    assert [
        s for s in selectors.category_suggestions(text=text, kind="complaint") if s.source == "model"
    ] == []


def test_the_suggest_endpoint_shows_no_blind_model_guess(active_model, client, hotline):
    cache.clear()
    client.force_login(hotline)
    response = client.get("/api/v1/tickets/categories/suggest", {"text": "the street light is broken"})
    assert response.status_code == 200
    assert [s for s in response.json() if s["source"] == "model"] == []
    response = client.get("/api/v1/tickets/categories/suggest", {"text": "the 路灯 is broken"})
    assert [(s["code"], s["source"]) for s in response.json()][:1] == [(STREET_LIGHT, "keywords")]
    cache.clear()


def test_blind_tickets_count_in_the_drift_check_with_their_uniform_confidence(active_model, make_ticket):
    """A surge of texts the model cannot read must show as falling confidence, not vanish."""
    from zhiwang.tickets.services.smart import recent_confidences

    tag = f"{active_model.name} v{active_model.version}"
    seen = make_ticket()
    blind = make_ticket()
    from zhiwang.tickets.models import Category

    learned = Category.objects.get(code=active_model.labels[0])  # filed under a category it knows
    Ticket.objects.filter(pk=seen.pk).update(
        category=learned, classification={"model": tag, "choices": [["GI0101", 0.9]]}
    )
    Ticket.objects.filter(pk=blind.pk).update(
        classification={"model": tag, "choices": [], "decision": "queue", "blind": True}
    )
    assert recent_confidences(active_model) == [1.0 / len(active_model.labels), 0.9]  # newest first
