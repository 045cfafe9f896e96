"""Where a case came from is said, never assumed.

An API client that left out ``source`` used to record every case as "service window (on
application)". Now the API requires it (422 ``request.invalid``, field ``source``,
``field.required``), an empty one is a field error (``disputes.source_required``), and the service
assumes nothing for a case registered directly: only a visit (the window) or a ticket says it by
itself. A party who applied to the mediator directly has a source of its own, ``application``.
"""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from django.utils import translation

from tests.disputes.conftest import parties
from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import CaseSource, DisputeCase
from zhiwang.disputes.services import case_register, visit_register

pytestmark = pytest.mark.django_db

API = "/api/v1/disputes"


def _post(client, body):
    return client.post(API + "/cases", data=json.dumps(body), content_type="application/json")


def _body(world, **extra):
    return {
        "facts": "楼道堆物纠纷",
        "category": "neighbours",
        "division": world.community.code,
        "parties": parties(),
        **extra,
    }


def test_api_without_a_source_is_422_on_the_field_and_writes_nothing(client, world):
    client.force_login(world.sub_dispatcher)
    response = _post(client, _body(world, idempotency_key="src-1"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "request.invalid" and error["field"] == "source"
    assert [(f["field"], f["code"]) for f in error["fields"]] == [("source", "field.required")]
    assert not DisputeCase.objects.exists()


@pytest.mark.parametrize("blank", ["", "   "])
def test_api_with_an_empty_source_is_a_field_error(client, world, blank):
    client.force_login(world.sub_dispatcher)
    response = _post(client, _body(world, source=blank))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "source"
    assert [(f["field"], f["code"]) for f in error["fields"]] == [("source", "disputes.source_required")]
    assert not DisputeCase.objects.exists()


def test_api_with_an_unknown_source_is_refused(client, world):
    client.force_login(world.sub_dispatcher)
    response = _post(client, _body(world, source="nowhere"))
    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["error"]["fields"]] == [
        ("source", "disputes.choice_invalid")
    ]


@pytest.mark.parametrize("source", ["window", "application", "proactive", "court"])
def test_api_records_the_source_given(client, world, source):
    client.force_login(world.sub_dispatcher)
    response = _post(client, _body(world, source=source, idempotency_key=f"src-{source}"))
    assert response.status_code == 201, response.content
    assert response.json()["source"] == source
    assert DisputeCase.objects.get().source == source


def test_the_openapi_document_marks_source_required():
    from zhiwang.api import api

    schema = api.get_openapi_schema()["components"]["schemas"]["CaseIn"]
    assert "source" in schema["required"] and "default" not in schema["properties"]["source"]


# --- the service ------------------------------------------------------------------------------------


def _register(world, **extra):
    data = {
        "actor": world.sub_dispatcher,
        "title": "",
        "facts": "楼道堆物纠纷",
        "category": "neighbours",
        "division": world.community,
        "parties": parties(),
        **extra,
    }
    return case_register(**data)


def test_a_case_registered_directly_must_say_its_source(world):
    with pytest.raises(ServiceError) as caught:
        _register(world)
    assert caught.value.code == "disputes.invalid" and caught.value.field == "source"
    assert [f.code for f in caught.value.fields] == ["disputes.source_required"]
    assert not DisputeCase.objects.exists()


def test_a_case_from_a_visit_is_on_application_at_the_window(world):
    visit = visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="邻里纠纷",
        visitor_name="赵六",
        idempotency_key="src-visit",
    ).visit
    case = _register(world, actor=world.window, division=None, visit=visit).case
    assert case.source == CaseSource.WINDOW


def test_a_partys_direct_application_has_its_own_source(world):
    case = _register(world, actor=world.mediator, source="application").case
    assert case.source == CaseSource.APPLICATION
    with translation.override("en"):
        assert case.get_source_display() == "Application by a party"


# --- the page ---------------------------------------------------------------------------------------


def _options(html: str) -> list[tuple[str, bool]]:
    select = re.search(r'<select id="source" name="source">(.*?)</select>', html, re.S).group(1)
    return [(v, bool(sel)) for v, sel in re.findall(r'<option value="([^"]*)"( selected)?', select)]


def test_the_direct_form_offers_a_partys_application_after_the_proactive_default(client, world):
    client.force_login(world.mediator)
    options = _options(client.get(reverse("disputes:case_new")).content.decode())
    assert [v for v, _selected in options][:2] == ["proactive", "application"]
    assert [value for value, selected in options if selected] == ["proactive"]  # the default, marked
    response = client.post(
        reverse("disputes:case_new"),
        {
            "token": "src-form-1",
            "facts": "当事人到调委会申请调解。",
            "category": "neighbours",
            "division": world.community.code,
            "source": "application",
            "party0_role": "applicant",
            "party0_name": "张三丰",
            "party1_role": "respondent",
            "party1_name": "李四海",
        },
    )
    assert response.status_code == 302
    assert DisputeCase.objects.get().source == "application"


def test_the_ledger_filters_by_a_partys_application(client, world, make_case):
    applied = make_case(source="application", title="当事人申请的纠纷")
    make_case(source="grid", title="网格发现的纠纷")
    client.force_login(world.sub_dispatcher)
    listed = client.get(API + "/cases", {"source": "application"}).json()
    assert [c["number"] for c in listed["items"]] == [applied.number]
