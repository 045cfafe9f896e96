"""Follow-up fixes from an API probe and a browser walkthrough (the tickets side).

1. A queued submission's key sent again with other content is refused (422), like ``POST /``.
2. The list's place and unit filters answer a code outside the caller's sight like an unknown code.
3. Every field error of an API answer carries a documented ``field.…`` (or app) code.
4. The suggest API leaves out the classifier's guesses under the forms' floor.
5. The handler inbox knows which tickets wait for the dispatcher's decision on a return or extension.
6. The hotline import report makes a cell inert however a formula starts (``core.spreadsheet``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tickets.test_api import _submit_body
from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import AddressLevel, Grid, StandardAddress
from zhiwang.tickets import selectors, services
from zhiwang.tickets.hotline_import import ImportSummary, RowOutcome, write_report
from zhiwang.tickets.models import Category, QueuedStatus, QueuedSubmission
from zhiwang.tickets.services.submit_queue import queued_submissions_process, submission_queue

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets"
LUOHU = "440303000000"
NANSHAN = "440305000000"


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """Rate limits and the queue's drain flag live in the cache."""


def error_of(answer) -> dict:
    assert answer.status_code == 400, answer.content
    return answer.json()["error"]


# --- 1. a queued key with other content ----------------------------------------------------------


def _queue(hotline, building, **extra):
    data = {**_submit_body(building), "external_id": f"u{hotline.pk}:call-7", **extra}
    return submission_queue(**data, actor=hotline)


def test_the_queue_keeps_the_fingerprint_the_ticket_gets(hotline, nanshan_building):
    """The receipt is compared as the ticket would be: the same fingerprint, kept after processing."""
    queued = _queue(hotline, nanshan_building, reporter_phone="138 0013 8000")
    row = queued.submission
    assert queued.accepted and len(row.idempotency_fingerprint) == 64
    queued_submissions_process()
    row.refresh_from_db()
    assert row.status == QueuedStatus.DONE and row.payload == {}
    assert row.ticket.idempotency_fingerprint == row.idempotency_fingerprint
    # the phone's spelling does not count: the same receipt
    again = _queue(hotline, nanshan_building, reporter_phone="13800138000")
    assert not again.accepted and again.submission.pk == row.pk


def test_a_queued_key_with_other_content_is_refused_and_nothing_changes(hotline, nanshan_building):
    first = _queue(hotline, nanshan_building).submission
    with pytest.raises(ServiceError) as refused:
        _queue(hotline, nanshan_building, urgency="urgent")
    assert refused.value.code == "tickets.idempotency_key_reused" and refused.value.status == 422
    assert refused.value.field == "external_id"
    row = QueuedSubmission.objects.get()
    assert row.pk == first.pk and row.payload["urgency"] == "normal"
    assert row.idempotency_fingerprint == first.idempotency_fingerprint


def test_a_refused_receipt_takes_other_content_as_a_new_attempt(hotline, nanshan_building):
    """Nothing was written for a refused receipt: its key is free, as for ``POST /``."""
    row = _queue(hotline, nanshan_building, address_code="NO-SUCH-ADDRESS").submission
    queued_submissions_process()
    row.refresh_from_db()
    assert row.status == QueuedStatus.REFUSED
    retry = _queue(hotline, nanshan_building)  # corrected: other content
    assert retry.accepted and retry.submission.pk == row.pk
    retry.submission.refresh_from_db()
    assert retry.submission.idempotency_fingerprint != row.idempotency_fingerprint


# --- 2. list filters: out of sight = unknown -------------------------------------------------------


def _luohu_grid() -> Grid:
    return Grid.objects.filter(community__code__startswith="440303").order_by("code").first()


def _same_answer(api, name: str, outside: str, missing: str) -> dict:
    """The error for a code outside the caller's sight equals the one for a code that does not exist."""
    out = error_of(api.get(f"{URL}/", {name: outside}))
    unknown = error_of(api.get(f"{URL}/", {name: missing}))
    assert out["code"] == unknown["code"] and out["field"] == unknown["field"] == name
    assert out["message"].replace(outside, "<code>") == unknown["message"].replace(missing, "<code>")
    assert [f["code"] for f in out["fields"]] == [f["code"] for f in unknown["fields"]]
    return out


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("division", "tickets.division_unknown"),
        ("grid", "tickets.grid_unknown"),
        ("address", "tickets.address_unknown"),
        ("handling_unit", "tickets.unit_unknown"),
        ("event_unit", "tickets.unit_unknown"),
    ],
)
def test_a_code_outside_the_jurisdiction_answers_like_an_unknown_one(
    as_user, make_ticket, nanshan_dispatcher, city_dispatcher, luohu_building, name, code
):
    make_ticket()
    outside = {
        "division": LUOHU,
        "grid": _luohu_grid().code,
        "address": luohu_building.code,
        "handling_unit": "DEMO-GOV-440303",  # Luohu's district government
        "event_unit": "DEMO-GOV-440303",
    }[name]
    missing = {"division": "440399999999", "grid": "440399999999999"}.get(name, "NO-SUCH-CODE")
    extra = {"event": "dispatched"} if name == "event_unit" else {}
    api = as_user(nanshan_dispatcher)
    out = error_of(api.get(f"{URL}/", {name: outside, **extra}))
    unknown = error_of(api.get(f"{URL}/", {name: missing, **extra}))
    assert out["code"] == unknown["code"] == code and out["field"] == unknown["field"] == name
    assert out["message"].replace(outside, "<code>") == unknown["message"].replace(missing, "<code>")
    # the same code filters for somebody whose sight it is in: a city-wide dispatcher
    assert as_user(city_dispatcher).get(f"{URL}/", {name: outside, **extra}).status_code == 200


def test_what_the_caller_may_know_of_still_filters(
    as_user, make_ticket, subdistrict_dispatcher, nanshan_dispatcher, nanshan_building
):
    """Above the jurisdiction (the subdistrict's district) and units that serve it or the whole city."""
    ticket = make_ticket()
    api = as_user(subdistrict_dispatcher)
    answer = api.get(f"{URL}/", {"division": NANSHAN})
    assert answer.status_code == 200 and ticket.number in {t["number"] for t in answer.json()["items"]}
    for unit in ("DEMO-GOV-440305", "DEMO-NS-URBAN", "DEMO-CITY-DATA", "DEMO-SUB-OFFICE"):
        assert api.get(f"{URL}/", {"handling_unit": unit}).status_code == 200, unit
    # and the web list the same way (one selector)
    assert selectors.ticket_list(
        user=nanshan_dispatcher, filters={"grid": nanshan_building.grid.code}
    ).exists()


def test_a_ticket_the_caller_sees_makes_its_place_and_unit_known(
    as_user, make_ticket, nanshan_dispatcher, sub_handler, city_dispatcher
):
    """A handler sees every ticket of their unit, wherever it lies: those places filter for them.
    A unit of another district handling a ticket of the caller's district filters too."""
    own_sub = sub_handler.org_unit.division
    elsewhere = (
        StandardAddress.objects.filter(level=AddressLevel.BUILDING, community__code__startswith="440305")
        .exclude(community__parent=own_sub)
        .select_related("community__parent", "grid")
        .order_by("code")
        .first()
    )
    assert elsewhere is not None, "the demo city has a second Nanshan subdistrict"
    ticket = make_ticket(address_code=elsewhere.code)
    ticket = services.ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    api = as_user(sub_handler)
    for name, code in (
        ("division", elsewhere.community.parent.code),
        ("division", elsewhere.community.code),
        ("grid", elsewhere.grid.code),
        ("address", elsewhere.code),
    ):
        answer = api.get(f"{URL}/", {name: code})
        assert answer.status_code == 200, (name, answer.content)
        assert [t["number"] for t in answer.json()["items"]] == [ticket.number]
    # another place of that subdistrict with no ticket of theirs stays unknown to them
    other = (
        StandardAddress.objects.filter(
            level=AddressLevel.BUILDING, community__parent=elsewhere.community.parent
        )
        .exclude(pk=elsewhere.pk)
        .order_by("code")
        .first()
    )
    if other is not None:
        assert error_of(api.get(f"{URL}/", {"address": other.code}))["code"] == "tickets.address_unknown"
    # Luohu's district government handles a Nanshan ticket: the Nanshan dispatcher may filter by it
    luohu_gov = OrgUnit.objects.get(code="DEMO-GOV-440303")
    moved = services.ticket_reassign(
        ticket=ticket, unit=luohu_gov, actor=city_dispatcher, note="罗湖区负责的跨区事项"
    )
    listed = as_user(nanshan_dispatcher).get(f"{URL}/", {"handling_unit": luohu_gov.code})
    assert listed.status_code == 200 and [t["number"] for t in listed.json()["items"]] == [moved.number]


def test_a_citizen_filters_by_the_places_of_their_own_reports_only(as_user, citizen, nanshan_building):
    answer = as_user(citizen).post(
        f"{URL}/",
        {**_submit_body(nanshan_building, channel="web", external_id="c-1"), "reporter_phone": ""},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.json()
    api = as_user(citizen)
    assert api.get(f"{URL}/", {"address": nanshan_building.code}).json()["count"] == 1
    _same_answer(api, "division", LUOHU, "440399999999")
    _same_answer(api, "grid", _luohu_grid().code, "440399999999999")


def test_a_unit_in_sight_costs_no_look_up_of_the_tickets(nanshan_dispatcher, make_ticket):
    """A unit serving the jurisdiction filters without asking whether the caller sees its tickets."""
    make_ticket()
    with CaptureQueriesContext(connection) as queries:
        selectors.ticket_list(user=nanshan_dispatcher, filters={"handling_unit": "DEMO-NS-URBAN"})
    unit_queries = [q for q in queries.captured_queries if "tickets_ticket" in q["sql"]]
    assert unit_queries == []


# --- 3. every field error with a documented code ---------------------------------------------------


def documented_field_codes() -> set[str]:
    """The field codes the error table of docs/api.md names (the ``request.invalid`` row)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if "`request.invalid`" in line and line.startswith("|"))
    return set(re.findall(r"`(field\.[a-z_]+)`", row))


def test_the_documented_codes_are_read():
    assert {
        "field.required",
        "field.too_long",
        "field.invalid",
        "field.too_small",
    } <= documented_field_codes()


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        # a model's or service's own code: as it is
        (ValidationError({"text": ValidationError("太长了。", code="field.too_long")}), ["field.too_long"]),
        # Django's codes: the field code that means the same
        (ValidationError({"text": ValidationError("太长了。", code="max_length")}), ["field.too_long"]),
        (ValidationError({"kind": ValidationError("必填。", code="required")}), ["field.required"]),
        # Django's bare "invalid", and no code at all: the documented catch-all
        (ValidationError({"text": ValidationError("不对。", code="invalid")}), ["field.invalid"]),
        (ValidationError("不对。"), ["field.invalid"]),
        (
            ValidationError({"text": [ValidationError("一", code="max_length"), ValidationError("二")]}),
            ["field.too_long", "field.invalid"],
        ),
    ],
)
def test_a_model_error_answers_documented_field_codes(as_user, hotline, monkeypatch, raised, expected):
    """The suggest endpoint, its selector made to raise what a model's ``full_clean`` raises: was
    ``"code": "invalid"`` for every field."""

    def broken(**kwargs):
        raise raised

    monkeypatch.setattr(selectors, "category_suggestions", broken)
    answer = as_user(hotline).get(f"{URL}/categories/suggest", {"text": "路灯坏了"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "validation_failed"
    assert [f["code"] for f in error["fields"]] == expected
    assert set(expected) <= documented_field_codes()
    assert error["field"] == error["fields"][0]["field"] and error["message"] == error["fields"][0]["message"]


def test_a_service_error_with_a_bare_field_code_answers_a_documented_one(as_user, hotline, monkeypatch):
    """A rule that names its problem ``required`` (the registry's import rules do) is answered with
    the table's codes; app codes stay as they are."""
    from zhiwang.core.errors import FieldError

    def broken(**kwargs):
        raise ServiceError(
            "required",
            "必填。",
            field="text",
            fields=[
                FieldError("text", "required", "必填。"),
                FieldError("kind", "tickets.kind_unknown", "未知类型。"),
            ],
        )

    monkeypatch.setattr(selectors, "category_suggestions", broken)
    error = as_user(hotline).get(f"{URL}/categories/suggest", {"text": "路灯坏了"}).json()["error"]
    assert error["code"] == "validation_failed"
    assert [f["code"] for f in error["fields"]] == ["field.required", "tickets.kind_unknown"]


# --- 4. the suggest API under the floor -----------------------------------------------------------


def test_the_suggest_api_leaves_out_guesses_under_the_floor(as_user, hotline, monkeypatch):
    from zhiwang.tickets import classify

    sure, unsure = Category.objects.get(code="GI0101"), Category.objects.get(code="GI0301")
    below = selectors.SUGGESTION_FLOOR / 2

    monkeypatch.setattr(classify, "model_suggestions", lambda texts, top_k: [SimpleNamespace(auto=False)])
    monkeypatch.setattr(
        classify, "live_choices", lambda suggestion, kind="": [(0, sure, 0.62), (1, unsure, below)]
    )
    answer = as_user(hotline).get(
        f"{URL}/categories/suggest", {"text": "小区门口有一堆垃圾没人清运，路灯也坏了"}
    )
    assert answer.status_code == 200
    found = {s["code"]: s for s in answer.json()}
    assert found[sure.code]["source"] == "model" and found[sure.code]["confidence"] == 0.62
    assert unsure.code not in found  # 2.5 %: no help to anybody
    keywords = [s for s in answer.json() if s["source"] == "keywords"]
    assert keywords and all(s["confidence"] is None for s in keywords)  # keyword matches stay
    # the web's forms use the same floor, from the tickets app
    from zhiwang.web.tickets import presenters

    assert presenters.SUGGESTION_FLOOR == selectors.SUGGESTION_FLOOR


def test_a_guess_under_the_floor_may_come_back_as_a_keyword_match(monkeypatch):
    from zhiwang.tickets import classify

    rubbish = Category.objects.get(code="GI0101")
    monkeypatch.setattr(classify, "model_suggestions", lambda texts, top_k: [SimpleNamespace(auto=False)])
    monkeypatch.setattr(classify, "live_choices", lambda suggestion, kind="": [(0, rubbish, 0.01)])
    found = selectors.category_suggestions(text="小区门口有一堆垃圾没人清运", kind="incident")
    mine = [s for s in found if s.category.pk == rubbish.pk]
    assert mine and mine[0].source == "keywords" and mine[0].confidence is None


# --- 5. the inbox marks a return or extension awaiting the dispatcher --------------------------------


def test_the_inbox_says_which_request_waits_for_a_decision(accepted, sub_handler, nanshan_dispatcher):
    returning, extending, suspended, plain = accepted(), accepted(), accepted(), accepted()
    services.ticket_request(
        ticket=returning, kind="return", actor=sub_handler, reason="不属于本单位职责", wrong_dispatch=True
    )
    services.ticket_request(
        ticket=extending, kind="extension", actor=sub_handler, reason="需协调", extra_days=3
    )
    request = services.ticket_request(
        ticket=suspended, kind="suspension", actor=sub_handler, reason="等待业主"
    )
    refused = services.ticket_request(
        ticket=plain, kind="extension", actor=sub_handler, reason="需协调", extra_days=2
    )
    services.ticket_decide(request=refused, approve=False, actor=nanshan_dispatcher, note="按期办理")
    marks = {t.number: t.awaiting_decision for t in selectors.handler_inbox(user=sub_handler)}
    assert marks[returning.number] == "return" and marks[extending.number] == "extension"
    assert marks[plain.number] is None  # decided: nothing waits
    assert marks[suspended.number] is None and request.kind == "suspension"  # not this mark's


def test_the_inbox_marks_cost_no_query_per_ticket(accepted, sub_handler):
    first = accepted()
    services.ticket_request(ticket=first, kind="extension", actor=sub_handler, reason="需协调", extra_days=3)
    list(selectors.handler_inbox(user=sub_handler))  # the user's scope is read once, then kept
    with CaptureQueriesContext(connection) as one:
        [t.awaiting_decision for t in selectors.handler_inbox(user=sub_handler)]
    assert len(one.captured_queries) == 1
    for _n in range(3):
        services.ticket_request(
            ticket=accepted(), kind="extension", actor=sub_handler, reason="需协调", extra_days=3
        )
    with CaptureQueriesContext(connection) as four:
        marks = [t.awaiting_decision for t in selectors.handler_inbox(user=sub_handler)]
    assert marks.count("extension") == 4
    assert len(four.captured_queries) == len(one.captured_queries)


# --- 6. the hotline report: inert cells ---------------------------------------------------------------


def test_the_import_report_writes_every_formula_start_as_text(tmp_path):
    summary = ImportSummary()
    for row, external_id in enumerate(("=HYPERLINK(1)", "\t=1+1", "+1", "@SUM(A1)", "-2", "call-1"), start=2):
        summary.rows.append(
            RowOutcome(row, external_id, "refused", code="tickets.invalid", message=f"{external_id}!")
        )
    path = tmp_path / "report.csv"
    write_report(summary, path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert [r[1] for r in rows] == ["'=HYPERLINK(1)", "'\t=1+1", "'+1", "'@SUM(A1)", "'-2", "call-1"]
    assert [r[6] for r in rows][:2] == ["'=HYPERLINK(1)!", "'\t=1+1!"]
    assert rows[0][0] == "2"  # numbers stay numbers
