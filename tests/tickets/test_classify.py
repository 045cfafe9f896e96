"""The classify step of submit: suggestions kept on the ticket; free text categorised; people win."""

# ruff: noqa: F811 (pytest fixtures imported from test_classify_fixtures)
from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.tickets.conftest import RUBBISH, SANITATION, events
from tests.tickets.test_classify_fixtures import (  # noqa: F401 (fixtures)
    MANHOLE,
    active_model,
    model_dir,
    tiny_trained,
)
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import selectors
from zhiwang.tickets.models import CategoryCorrection, CategorySource, Ticket, TicketStatus
from zhiwang.tickets.services import ticket_submit

pytestmark = pytest.mark.django_db
RUBBISH_TEXT = "小区门口垃圾堆了好几天没人清运"


@pytest.fixture
def incident(nanshan_building, grid_worker):
    """``incident(**overrides)``: a patrol incident at the Nanshan building, without a category."""
    counter = {"n": 0}

    def submit(**overrides):
        counter["n"] += 1
        data = {
            "channel": "patrol",
            "kind": "incident",
            "description": RUBBISH_TEXT,
            "address_code": nanshan_building.code,
            "external_id": f"patrol-{counter['n']}",
            "actor": grid_worker,
        }
        data.update(overrides)
        return ticket_submit(**data).ticket

    return submit


# --- without a model: rules and keywords ------------------------------------------------------


def test_without_a_model_the_given_category_stands_and_nothing_is_recorded(make_ticket):
    ticket = make_ticket()
    assert ticket.category.code == SANITATION
    assert ticket.category_source == CategorySource.REPORTER
    assert ticket.classification == {}
    assert not CategoryCorrection.objects.exists()


def test_without_a_model_free_text_gets_the_keyword_guess_and_waits_for_a_dispatcher(incident):
    ticket = incident()
    # 垃圾 is a keyword of 暴露垃圾; the rule for grid incidents is automatic, but a guess never is.
    assert ticket.category.code == RUBBISH
    assert ticket.category_source == CategorySource.KEYWORDS
    assert ticket.status == TicketStatus.PENDING_DISPATCH
    assert ticket.handling_unit is None and ticket.suggested_unit is not None
    assert events(ticket)[0].payload["category_source"] == "keywords"


def test_free_text_nobody_can_place_is_refused_with_a_field_error(incident):
    with pytest.raises(ServiceError) as exc:
        incident(description="请帮忙看看这个情况怎么办")
    assert exc.value.code == "tickets.invalid"
    assert "category" in {e.field for e in exc.value.fields}
    assert not Ticket.objects.filter(channel="patrol").exists()


def test_no_model_no_query_once_the_process_knows(settings):
    from zhiwang.tickets.classify import model_cache_reset, model_suggestions

    settings.ZHIWANG_TICKETS_CACHE_CHECK_SECONDS = 60
    model_cache_reset()
    assert model_suggestions(["路灯不亮"]) == []  # looks once
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert model_suggestions(["路灯不亮"]) == []
    assert len(queries) == 0
    model_cache_reset()


# --- with a model ----------------------------------------------------------------------------


def test_confident_model_category_is_dispatched_when_the_rule_is_certain(active_model, incident):
    ticket = incident()
    assert ticket.category.code == RUBBISH
    assert ticket.category_source == CategorySource.MODEL
    assert ticket.classification["model"] == "category v1"
    assert ticket.classification["decision"] == "auto"
    assert ticket.classification["choices"][0][0] == RUBBISH
    assert len(ticket.classification["choices"]) == 3
    # GI → the subdistrict office, automatically; the note says the model chose the category
    assert ticket.status == TicketStatus.DISPATCHED
    dispatch = events(ticket)[-1]
    assert (
        dispatch.action == "dispatch" and "分类模型 第 1 版" in dispatch.note
    )  # the model in words (the tag stays in the payload)
    assert dispatch.payload["note_params"]["model"] == "category v1"


def test_unsure_model_category_waits_in_the_queue_with_the_suggestion(active_model, incident):
    from zhiwang.tickets.services.smart import classifier_set_threshold

    classifier_set_threshold(threshold=0.999)
    ticket = incident()
    assert ticket.category.code == RUBBISH  # the best guess, to be checked
    assert ticket.category_source == CategorySource.MODEL_UNSURE
    assert ticket.classification["decision"] == "queue"
    assert ticket.status == TicketStatus.PENDING_DISPATCH
    view = selectors.classification_view(ticket)
    assert view["choices"][0]["code"] == RUBBISH and view["choices"][0]["chosen"]
    assert 0 < view["choices"][0]["percent"] <= 100


def test_the_operators_choice_wins_and_is_recorded_as_a_training_example(active_model, make_ticket, hotline):
    ticket = make_ticket(description=RUBBISH_TEXT)
    assert ticket.category.code == SANITATION
    assert ticket.category_source == CategorySource.REPORTER
    assert ticket.classification["choices"][0][0] == RUBBISH
    assert ticket.status == TicketStatus.PENDING_DISPATCH
    example = CategoryCorrection.objects.get(ticket=ticket)
    assert (example.suggested_label, example.final_category.code, example.source) == (
        RUBBISH,
        SANITATION,
        "intake",
    )
    assert example.actor == hotline and example.model == "category v1"
    assert example.agreed is False and example.suggested_confidence > 0.5


def test_a_citizens_choice_is_not_a_training_example(active_model, citizen, nanshan_building):
    ticket = ticket_submit(
        channel="web",
        kind="complaint",
        category=SANITATION,
        description=RUBBISH_TEXT,
        address_code=nanshan_building.code,
        reporter=citizen,
        actor=citizen,
    ).ticket
    assert ticket.classification["choices"][0][0] == RUBBISH
    assert not CategoryCorrection.objects.exists()


def test_the_model_suggests_only_categories_of_the_kind(active_model, incident):
    # 井盖 (GI0201) is used for incidents, complaints and help, not for suggestions
    found = selectors.category_suggestions(text="路口井盖丢了，很危险", kind="suggestion")
    assert all(s.category.code != MANHOLE for s in found)


def test_bad_texts_never_crash_and_queue(active_model, incident):
    for text in ("hello world, nothing here at all", "井盖" * 1500):
        try:
            ticket = incident(description=text)
        except ServiceError as exc:  # nothing suggested in any way: a clear field error
            assert "category" in {e.field for e in exc.fields}
            continue
        assert ticket.status in (TicketStatus.PENDING_DISPATCH, TicketStatus.DISPATCHED)


# --- suggestions for the forms and the API -----------------------------------------------------


def test_suggestions_put_the_model_first_with_confidence_and_hints(active_model):
    found = selectors.category_suggestions(text="我们小区垃圾堆了好几天，很脏", kind="complaint")
    assert found[0].source == "model" and found[0].category.code == RUBBISH
    assert 0.5 < found[0].confidence <= 1 and found[0].auto
    assert found[0].unit  # the routing rule's tier: the subdistrict office
    assert found[0].deadline and found[0].urgency == "urgent"  # 4 working hours
    keyword = [s for s in found if s.source == "keywords"]
    assert keyword and all(s.confidence is None for s in keyword)
    assert len({s.category.pk for s in found}) == len(found)


def test_suggestions_without_a_model_are_the_keyword_matches():
    found = selectors.category_suggestions(text="我们小区垃圾堆了好几天", kind="incident")
    assert found and {s.source for s in found} == {"keywords"}
    assert found[0].category.code == RUBBISH


def test_api_suggest_and_submit_without_a_category(active_model, client, hotline, nanshan_building):
    cache.clear()
    client.force_login(hotline)
    response = client.get("/api/v1/tickets/categories/suggest", {"text": RUBBISH_TEXT, "kind": "incident"})
    assert response.status_code == 200
    first = response.json()[0]
    assert (first["code"], first["source"], first["auto"]) == (RUBBISH, "model", True)
    assert first["confidence"] > 0.5 and "incident" in first["kinds"]

    body = {
        "channel": "department",
        "kind": "complaint",
        "description": "城中村垃圾堆了好几天没人清运，气味很大",
        "address_code": nanshan_building.code,
        "external_id": "dept-1",
    }
    response = client.post("/api/v1/tickets/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    number = response.json()["ticket"]["number"]
    detail = client.get(f"/api/v1/tickets/{number}").json()
    assert detail["category"]["code"] == RUBBISH
    assert detail["category_source"] == "model"
    assert detail["classification"]["choices"][0]["code"] == RUBBISH
    cache.clear()
