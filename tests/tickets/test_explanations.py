"""The system's words on a ticket are stored as codes and read in each reader's language.

Route explanations and the system's timeline notes used to be stored as sentences in the language
of whoever wrote them (an English dispatcher left English on a Chinese dispatcher's ticket, and an
English reader saw Chinese on every ticket). Now a code and its parameters are stored and put into
words when read; the sentence is still stored, in the city's language, for old readers.
"""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from tests.tickets.conftest import ILLEGAL_BUILDING, SANITATION
from tests.tickets.test_clock import at
from tests.tickets.test_clock import make_ticket as clock_ticket
from zhiwang.tickets.explanations import (
    deadline_text,
    event_label,
    event_note,
    event_payload,
    route_text,
    ticket_route_text,
)
from zhiwang.tickets.models import TicketEvent, TicketStatus
from zhiwang.tickets.services import clock_sweep, ticket_submit

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


def _submit(building, hotline, **overrides):
    fields = {
        "channel": "hotline",
        "kind": "complaint",
        "category": SANITATION,
        "description": "楼下垃圾桶满了好几天没人清理，气味很大。",
        "address_code": building.code,
        "reporter_phone": "13800138000",
        "actor": hotline,
    }
    return ticket_submit(**{**fields, **overrides}).ticket


def _without(text: str, *names: str) -> str:
    for name in names:
        text = text.replace(name, "")
    return text


def test_the_route_is_kept_as_a_reason_and_written_in_the_citys_language(nanshan_building, hotline):
    with translation.override("en"):  # an English-browsing operator
        ticket = _submit(nanshan_building, hotline)
    reason = ticket.route_reason
    assert reason["code"] == "rule" and reason["unit"] == ticket.suggested_unit.name
    assert reason["rule"] and reason["what"] and reason["where"]
    # the stored sentence is the city's, never the operator's language
    assert ticket.route_explanation.startswith("规则 #")
    receive = ticket.events.get(action="receive")
    assert receive.payload["route_reason"] == reason and receive.payload["route"] == ticket.route_explanation
    assert receive.payload["note_code"] == "received" and receive.payload["note_params"] == {
        "channel": "hotline"
    }
    assert CJK.search(receive.note)  # "经 12345 热线受理。"
    # each reader gets their own words
    with translation.override("en"):
        english = ticket_route_text(ticket)
        assert english.startswith(f"Rule #{reason['rule']}: ")
        assert not CJK.search(_without(english, reason["what"], reason["where"], reason["unit"]))
        assert event_note(receive) == "Received via 12345 hotline."
        assert event_payload(receive.payload)["route"] == english
    with translation.override("zh-hans"):
        assert ticket_route_text(ticket) == ticket.route_explanation
        assert event_note(receive) == receive.note


def test_automatic_dispatch_keeps_its_reason(nanshan_building, hotline):
    with translation.override("en"):
        ticket = _submit(nanshan_building, hotline, category=ILLEGAL_BUILDING)
    assert ticket.status == TicketStatus.DISPATCHED
    row = ticket.events.get(action="dispatch")
    assert row.payload["note_code"] == "dispatched_auto"
    assert row.payload["note_params"]["route"] == ticket.route_reason
    assert row.note.startswith("已自动派遣")  # stored in the city's language
    with translation.override("en"):
        assert event_note(row) == f"Dispatched automatically: {ticket_route_text(ticket)}"


def test_a_recategorised_ticket_is_routed_again_with_its_reason(
    nanshan_building, hotline, nanshan_dispatcher
):
    from zhiwang.tickets.services import ticket_recategorise

    ticket = _submit(nanshan_building, hotline)
    with translation.override("en"):
        ticket_recategorise(ticket=ticket, category="010201", actor=nanshan_dispatcher)
    ticket.refresh_from_db()
    row = ticket.events.get(action="recategorise")
    assert row.payload["route_reason"] == ticket.route_reason and ticket.route_reason["code"]
    assert CJK.search(ticket.route_explanation) and not ticket.route_explanation.startswith("Rule")


def test_the_sweep_keeps_codes_and_each_reader_reads_them(settings):
    ticket = clock_ticket(dispatched=at(9, 26, 10), status=TicketStatus.DISPATCHED)
    with translation.override("en"):  # whoever runs the sweep, it writes the city's language
        for moment in (at(9, 26, 12, 1), at(10, 9, 16, 48), at(10, 10, 18, 1), at(10, 11, 9), at(10, 17, 18)):
            clock_sweep(now=moment)
    rows = list(ticket.events.order_by("at", "pk"))
    codes = [(e.payload.get("note_code"), e.payload.get("note_params")) for e in rows]
    assert codes == [
        ("accept_overdue", {}),
        ("deadline_near", {"percent": 80}),
        ("overdue", {}),
        ("urged", {}),
        ("supervised", {"days": 5}),
    ]
    assert all(CJK.search(e.note) for e in rows)  # the stored sentences: the city's language
    with translation.override("en"):
        assert [event_note(e) for e in rows] == [
            "Not accepted in time.",
            "80% of the time limit has been used.",
            "The deadline has passed.",
            "Urge notice: the deadline has passed. Reply without delay.",
            "Still overdue 5 working days after the urge notice.",
        ]
        # a warn row says which threshold it was
        assert [event_label(e) for e in rows] == [
            "Accept deadline missed",
            "Deadline warning",
            "Overdue",
            "Urge",
            "Supervise",
        ]
    with translation.override("zh-hans"):
        assert [event_note(e) for e in rows] == [e.note for e in rows]
        assert event_label(rows[0]) == "签收超时"


def _old(ticket, action, note, actor=None, **payload):
    return TicketEvent(ticket=ticket, action=action, note=note, actor=actor, payload=payload)


def test_rows_written_before_the_codes_are_read_from_what_they_hold(nanshan_building, hotline, sub_handler):
    ticket = _submit(nanshan_building, hotline)
    with translation.override("en"):
        # the system's rows: from the action, the warning's kind and the ticket's channel
        assert event_note(_old(ticket, "receive", "经 12345 热线受理。", actor=hotline)) == (
            "Received via 12345 hotline."
        )
        assert event_note(_old(ticket, "warn", "办理时限已用去 75%。", kind="deadline_near")) == (
            "75% of the time limit has been used."
        )
        assert (
            event_note(_old(ticket, "warn", "已超过办理期限。", kind="overdue")) == "The deadline has passed."
        )
        assert event_note(_old(ticket, "warn", "", kind="accept_overdue")) == "Not accepted in time."
        assert event_note(
            _old(ticket, "urge", "催办通知：已超过办理期限，请立即答复。", overdue=True)
        ).startswith("Urge notice")
        assert event_note(_old(ticket, "supervise", "催办后仍超期 3 个工作日。", level=2)) == (
            "Still overdue 3 working days after the urge notice."
        )
        # an automatic dispatch's old sentence cannot be rebuilt: it stays as written
        assert event_note(_old(ticket, "dispatch", "已自动派遣：规则 #1：…")) == "已自动派遣：规则 #1：…"
        # what a person wrote stays as written
        assert event_note(_old(ticket, "urge", "请尽快处理。", actor=sub_handler)) == "请尽快处理。"
        assert (
            event_note(_old(ticket, "supervise", "第二次督办。", actor=sub_handler, level=2))
            == "第二次督办。"
        )
        # an old ticket without a reason shows its stored sentence
        assert (
            route_text({}, "规则 #4：* @ 深圳市 → 龙岗区人民政府") == "规则 #4：* @ 深圳市 → 龙岗区人民政府"
        )
        assert event_payload({"route": "旧的说明"}) == {"route": "旧的说明"}
        assert route_text({"code": "no_rule"}) == "No routing rule matches this category and place."
        assert route_text({"code": "no_active_unit", "rules": [3, 7]}) == (
            "The matching rules (#3, #7) name no active unit for this place."
        )


def test_time_limits_read_in_lower_case_and_plural():
    with translation.override("en"):
        assert deadline_text(1, "working_days") == "1 working day"
        assert deadline_text(2, "working_days") == "2 working days"
        assert deadline_text(4, "working_hours") == "4 working hours"
        assert deadline_text("1.5", "working_hours") == "1.5 working hours"
        assert deadline_text(3, "natural_days") == "3 natural days"
        assert deadline_text(None, "") == ""
    with translation.override("zh-hans"):
        assert deadline_text(2, "working_days") == "2 个工作日"


def test_the_suggest_api_gives_the_time_limit_and_unit_as_data(as_user, hotline):
    api = as_user(hotline)
    api.cookies["django_language"] = "en"
    found = api.get("/api/v1/tickets/categories/suggest", {"text": "违法搭建", "kind": "complaint"}).json()
    illegal = next(s for s in found if s["code"] == ILLEGAL_BUILDING)
    assert (illegal["deadline_amount"], illegal["deadline_unit"]) == (15.0, "working_days")
    assert illegal["deadline"] == "15 working days"  # no capital inside a sentence
    assert illegal["unit_code"] or illegal["unit_tier"]
    assert bool(illegal["unit_code"]) != bool(illegal["unit_tier"])


def test_a_persons_urge_or_recategorisation_without_words_reads_in_each_readers_language(
    nanshan_building, hotline, nanshan_dispatcher, sub_handler
):
    from zhiwang.tickets.services import ticket_dispatch, ticket_recategorise, ticket_urge

    ticket = _submit(nanshan_building, hotline)
    with translation.override("en"):  # an English-browsing dispatcher leaves no words of their own
        ticket = ticket_recategorise(ticket=ticket, category="010201", actor=nanshan_dispatcher)
        ticket = ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
        ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher)
    urge = ticket.events.get(action="urge")
    recategorised = ticket.events.get(action="recategorise")
    assert CJK.search(urge.note) and CJK.search(recategorised.note)  # stored in the city's language
    with translation.override("en"):
        assert event_note(urge) == "Please speed up."
        assert event_note(recategorised).startswith("Category changed from ")
    assert CJK.search(event_note(urge))
    # words a person typed stay as typed, in any language
    ticket_urge(ticket_id=ticket.pk, actor=nanshan_dispatcher, note="call them back today")
    typed = ticket.events.filter(action="urge").latest("pk")
    with translation.override("zh-hans"):
        assert event_note(typed) == "call them back today"


def test_the_single_warning_keeps_its_code(nanshan_building, hotline, nanshan_dispatcher, sub_handler):
    from zhiwang.tickets.services import ticket_dispatch
    from zhiwang.tickets.services.escalation import ticket_warn

    ticket = _submit(nanshan_building, hotline)
    ticket = ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    with translation.override("en"):
        ticket_warn(ticket_id=ticket.pk, kind="accept_overdue")
    row = ticket.events.get(action="warn")
    assert row.payload["note_code"] == "accept_overdue" and CJK.search(row.note)
    with translation.override("en"):
        assert event_note(row) == "Not accepted in time."
