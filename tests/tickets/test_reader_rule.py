"""One rule for who reads tickets (``tickets.access``): the web's ticket pages and every endpoint of
the tickets API admit the same roles; a mediator reads none of them (its work is dispute cases,
which reach a ticket through the disputes service's own check)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.disputes.conftest import parties, world  # noqa: F401  (fixture)
from zhiwang.accounts.models import Role, User
from zhiwang.accounts.services import integration_client_create
from zhiwang.api import api
from zhiwang.tickets.access import READER_ROLES
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets"

#: The operations of the tickets router open beyond ticket users (``api.base.admits``), with what a
#: mediator gets from each: the public look-up and rating (404: no such ticket and phone), the
#: category catalogue, submitting (refused by the channel rule) and one's own receipts (404).
OPEN_BEYOND_READERS = {
    ("post", "/public/lookup"): 404,
    ("post", "/public/rate"): 404,
    ("get", "/categories"): 200,
    ("post", "/categories/suggest"): 200,
    ("get", "/categories/suggest"): 200,
    ("post", "/"): 403,  # tickets.channel_not_allowed, tested in test_channel_rule
    ("get", "/submissions/{receipt}"): 404,
}

#: One demo account per role (integration clients have none: made in the test).
DEMO_USER = {
    Role.GRID_WORKER: "demo_grid_worker",
    Role.INTAKE_OPERATOR: "demo_hotline",
    Role.DISPATCHER: "demo_ns_dispatcher",
    Role.HANDLER: "demo_sub_handler",
    Role.MEDIATOR: "demo_mediator",
    Role.LEADER: "demo_leader",
    Role.DATA_STEWARD: "demo_steward",
    Role.ADMINISTRATOR: "demo_admin",
    Role.CITIZEN: "demo_citizen",
}


def _schema():
    return api.get_openapi_schema()


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in spec:
        spec = schema["components"]["schemas"][spec["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in spec:  # an optional field: its first non-null form
        spec = next(s for s in spec["anyOf"] if s.get("type") != "null")
        return _resolve(schema, spec)
    return spec


def _value(schema: dict, spec: dict, name: str):
    """A value that passes the schema's shape (the handler then decides, not the parser)."""
    spec = _resolve(schema, spec)
    kind = spec.get("type")
    if kind == "object":
        return {key: _value(schema, sub, key) for key, sub in spec.get("properties", {}).items()}
    if kind == "array":
        return [_value(schema, spec["items"], name)]
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return 1
    if spec.get("format") == "date-time":
        return "2026-11-23T10:00:00+08:00"
    if spec.get("format") == "uuid":
        return str(uuid.uuid4())
    return {"phone": "13800138000", "channel": "hotline", "kind": "complaint"}.get(name, "x")


def _operations():
    """(method, path inside the router, query, body) of every operation of the tickets router."""
    schema = _schema()
    found = []
    for path, methods in schema["paths"].items():
        if not path.startswith(f"{URL}/"):
            continue
        for method, operation in methods.items():
            query = {
                p["name"]: _value(schema, p["schema"], p["name"])
                for p in operation.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            body = None
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = _value(schema, content["application/json"]["schema"], "")
            found.append((method, path[len(URL) :], query, body))
    return found


def _call(client, method: str, path: str, query: dict, body, number: str):
    url = URL + path.replace("{number}", number).replace("{request_id}", "1")
    url = url.replace("{receipt}", str(uuid.uuid4()))
    if method == "get":
        return client.get(url, query)
    return client.generic(method.upper(), url, json.dumps(body or {}), content_type="application/json")


def test_a_mediator_is_refused_by_every_ticket_endpoint(client, make_ticket):
    """Every operation of the router, the future ones too: refused with 403 ``auth.forbidden`` once
    the request parsed, except the few open to anybody signed in (``OPEN_BEYOND_READERS``)."""
    ticket = make_ticket(description="邻居深夜噪音扰民，电话13800138000，住3栋402。")
    rows = ticket.events.count()
    client.force_login(User.objects.get(username="demo_mediator"))
    operations = _operations()
    assert len(operations) > 35  # the enumeration found the router
    answers = {}
    for method, path, query, body in operations:
        response = _call(client, method, path, query, body, ticket.number)
        answers[(method, path)] = (
            response.status_code,
            response.json()["error"]["code"] if response.status_code >= 400 else "",
        )
    refused = {key: answer for key, answer in answers.items() if key not in OPEN_BEYOND_READERS}
    assert refused == dict.fromkeys(refused, (403, "auth.forbidden"))
    assert {key: answers[key][0] for key in OPEN_BEYOND_READERS} == OPEN_BEYOND_READERS
    assert Ticket.objects.count() == 1 and ticket.events.count() == rows  # and nothing was written


def test_a_mediator_does_not_read_a_ticket_through_the_api(client, make_ticket):
    """The reviewer's reproduction, turned round: list, detail, timeline and queue are refused."""
    ticket = make_ticket(description="邻居深夜噪音扰民，电话13800138000，住3栋402。")
    client.force_login(User.objects.get(username="demo_mediator"))
    for path in ("/", f"/{ticket.number}", f"/{ticket.number}/timeline", "/queue", "/inbox"):
        answer = client.get(URL + path)
        assert answer.status_code == 403, path
        assert answer.json()["error"]["code"] == "auth.forbidden"
        assert "13800138000" not in answer.content.decode() and "噪音" not in answer.content.decode()


def test_the_web_and_the_api_admit_the_same_roles(client, make_ticket, nanshan_dispatcher):
    """For every role: the web's ticket list and detail page open exactly when the API's list and
    detail do (the citizen reads the tickets they reported through the API, not the staff pages;
    an integration client has no web sign-in)."""
    ticket = make_ticket()
    assert set(DEMO_USER) | {Role.INTEGRATION} == set(Role)  # a new role must be placed here
    for role, username in DEMO_USER.items():
        client.force_login(User.objects.get(username=username))
        web = {client.get("/tickets/").status_code, client.get(f"/tickets/{ticket.number}/").status_code}
        api_list = client.get(f"{URL}/").status_code
        if role == Role.CITIZEN:
            assert (web, api_list) == ({403}, 200), role
            assert client.get(f"{URL}/{ticket.number}").status_code == 404  # not theirs
        elif role in READER_ROLES:
            assert 403 not in web and api_list == 200, role
        else:
            assert (web, api_list) == ({403}, 403), role
            assert client.get(f"{URL}/{ticket.number}").status_code == 403, role
    service_user = integration_client_create(
        name="12345平台", jurisdictions=list(nanshan_dispatcher.jurisdictions.all())
    ).service_user
    client.force_login(service_user)
    assert client.get(f"{URL}/{ticket.number}").status_code == 200
    assert client.get(f"{URL}/{ticket.number}/timeline").status_code == 200


def test_the_rule_does_not_reopen_readers_or_citizens(
    client, as_user, make_ticket, citizen, nanshan_building, nanshan_dispatcher
):
    ticket = make_ticket()
    api = as_user(nanshan_dispatcher)
    assert api.get(f"{URL}/{ticket.number}/timeline").status_code == 200
    assert ticket.number in [t["number"] for t in api.get(f"{URL}/queue").json()["pending"]]
    mine = as_user(citizen).post(
        f"{URL}/",
        {
            "channel": "app",
            "kind": "complaint",
            "category": "010214",
            "description": "小区垃圾站满溢，请尽快清运。",
            "address_code": nanshan_building.code,
        },
        content_type="application/json",
    )
    assert mine.status_code == 201, mine.json()
    number = mine.json()["ticket"]["number"]
    assert client.get(f"{URL}/{number}").status_code == 200
    assert [t["number"] for t in client.get(f"{URL}/").json()["items"]] == [number]
    assert client.get(f"{URL}/queue").status_code == 403  # a citizen has no staff lists


def test_a_mediator_still_turns_a_ticket_into_a_case(client, world, hotline, nanshan_building):  # noqa: F811
    """The disputes service reads the ticket behind its own check (a role that registers cases, in
    its jurisdiction): the ticket API stays shut while that path works."""
    from zhiwang.tickets.services import ticket_submit

    ticket = ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="小区停车位被邻居长期占用，协商无果。",
        address_code=nanshan_building.code,
        external_id="to-mediation",
        actor=hotline,
    ).ticket
    client.force_login(world.mediator)
    assert client.get(f"{URL}/{ticket.number}").status_code == 403
    answer = client.post(
        "/api/v1/disputes/cases/from-ticket",
        json.dumps({"ticket": ticket.number, "category": "neighbours", "parties": parties()}),
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["ticket"] == ticket.number
