"""The system's sentences on a case, a visit and in an alert read in the reader's language.

They are stored as a code with parameters (``disputes.texts``) beside the sentence in the city's
language: whoever wrote them (an English-browsing dispatcher, the reminder sweep), an English page
and the API in English show English, a Chinese page Chinese. Old rows with only the sentence, a
person's own words and a code this version does not know show what is stored.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tests.disputes.conftest import parties
from zhiwang.disputes import texts
from zhiwang.disputes.models import AlertKind, CaseEvent, DisputeAlert, VisitEvent
from zhiwang.disputes.services import (
    agreement_confirm_online,
    case_assign,
    case_from_ticket,
    case_mark_backlog,
    confirmation_links_send,
    online_session_schedule,
    reminders_sweep,
    visit_register,
    visit_route,
)
from zhiwang.tickets.models import OutboundMessage

pytestmark = pytest.mark.django_db

API = "/api/v1/disputes"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _red_case(make_case, world):
    """A red-risk case registered by a dispatcher browsing in English."""
    with translation.override("en"):
        return make_case(risk="red", title="漏水", actor=world.sub_dispatcher)


def _page(client, user, url, language):
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


# --- stored: code, parameters and the city's sentence --------------------------------------------


def test_rows_written_in_english_store_codes_and_chinese(make_case, world):
    case = _red_case(make_case, world)
    receive = case.events.get(action="receive")
    assert receive.payload[texts.NOTE_CODE] == texts.REGISTERED
    assert receive.payload[texts.NOTE_PARAMS] == {"source": "grid"}
    assert receive.note.startswith("受理登记")  # the city's language, not the writer's
    report = case.events.get(action="report_up")
    assert report.payload[texts.NOTE_CODE] == texts.RED_RISK
    assert report.payload[texts.NOTE_PARAMS] == {
        "number": case.number,
        "place": world.community.name,
        "title": "漏水",
    }
    assert report.note.startswith("红色风险纠纷")
    alert = DisputeAlert.objects.filter(case=case, kind=AlertKind.RED_RISK).first()
    assert alert.message_code == texts.RED_RISK and alert.message.startswith("红色风险纠纷")
    assert alert.message_params == report.payload[texts.NOTE_PARAMS]


def test_the_same_row_reads_in_each_readers_language(make_case, world):
    case = _red_case(make_case, world)
    receive = case.events.get(action="receive")
    alert = DisputeAlert.objects.filter(case=case, kind=AlertKind.RED_RISK).first()
    with translation.override("en"):
        assert receive.note_text == "Registered: Found by a grid worker (proactive)."
        assert alert.text == f"Red-risk dispute {case.number} at {world.community.name}: 漏水"
    with translation.override("zh-hans"):
        assert receive.note_text == "受理登记：网格员排查。"
        assert alert.text.startswith("红色风险纠纷")


# --- pages and the API ------------------------------------------------------------------------------


def test_case_page_timeline_and_hub_alerts_follow_the_page_language(client, make_case, world):
    case = _red_case(make_case, world)
    url = reverse("disputes:case_detail", args=[case.number])
    english = _page(client, world.sub_dispatcher, url, "en")
    assert "Registered: Found by a grid worker (proactive)." in english
    assert f"Red-risk dispute {case.number} at" in english
    assert "受理登记" not in english and "红色风险纠纷" not in english
    chinese = _page(client, world.sub_dispatcher, url, "zh-hans")
    assert "受理登记" in chinese and "Registered:" not in chinese
    hub = _page(client, world.sub_dispatcher, reverse("disputes:home"), "en")
    assert f"Red-risk dispute {case.number} at" in hub and "红色风险纠纷" not in hub
    assert "红色风险纠纷" in _page(client, world.sub_dispatcher, reverse("disputes:home"), "zh-hans")


def test_workbench_alerts_follow_the_page_language(client, make_case, world):
    case = make_case()
    with translation.override("zh-hans"):  # assigned by somebody browsing in Chinese
        case_assign(case=case, actor=world.sub_dispatcher, mediator=world.mediator)
    english = _page(client, world.mediator, reverse("disputes:workbench"), "en")
    assert f"Case {case.number} was assigned to you." in english
    chinese = _page(client, world.mediator, reverse("disputes:workbench"), "zh-hans")
    assert f"案件 {case.number} 已分派给您。" in chinese


def test_api_events_and_alerts_answer_in_the_callers_language(client, make_case, world):
    case = _red_case(make_case, world)
    client.force_login(world.sub_dispatcher)
    client.cookies["django_language"] = "en"
    detail = client.get(f"{API}/cases/{case.number}").json()
    receive = next(e for e in detail["events"] if e["action"] == "receive")
    assert receive["note"] == "Registered: Found by a grid worker (proactive)."
    assert receive["note_code"] == "registered" and receive["note_params"] == {"source": "grid"}
    alerts = client.get(f"{API}/alerts").json()["items"]
    red = next(a for a in alerts if a["kind"] == "red_risk")
    assert red["message"].startswith(f"Red-risk dispute {case.number}") and red["message_code"] == "red_risk"
    assert red["message_params"]["number"] == case.number
    client.cookies["django_language"] = "zh-hans"
    detail = client.get(f"{API}/cases/{case.number}").json()
    receive = next(e for e in detail["events"] if e["action"] == "receive")
    assert receive["note"].startswith("受理登记")
    assert client.get(f"{API}/alerts").json()["items"][0]["message"].startswith("红色风险纠纷")


# --- old rows, a person's words, unknown codes ------------------------------------------------------


def test_old_rows_and_alerts_without_a_code_show_what_is_stored(client, make_case, world):
    case = make_case()
    old = CaseEvent.objects.create(
        case=case,
        actor=None,
        action="remind",
        from_state=case.status,
        to_state=case.status,
        note="纠纷案件 旧的提醒（迁移前写入）",
        payload={"kind": "target_near", "due": "2025-01-01", "recipients": 1},
    )
    unknown = CaseEvent.objects.create(
        case=case,
        actor=None,
        action="remind",
        from_state=case.status,
        to_state=case.status,
        note="未来版本写入的提醒",
        payload={texts.NOTE_CODE: "from_a_later_version", texts.NOTE_PARAMS: {}},
    )
    alert = DisputeAlert.objects.create(
        case=case, recipient=world.sub_dispatcher, kind=AlertKind.TARGET_NEAR, message="旧的提醒消息"
    )
    with translation.override("en"):
        assert old.note_text == "纠纷案件 旧的提醒（迁移前写入）"
        assert unknown.note_text == "未来版本写入的提醒"
        assert alert.text == "旧的提醒消息"
    english = _page(client, world.sub_dispatcher, reverse("disputes:case_detail", args=[case.number]), "en")
    assert "旧的提醒（迁移前写入）" in english
    client.cookies["django_language"] = "en"
    answered = client.get(f"{API}/alerts").json()["items"]
    assert [(a["message"], a["message_code"], a["message_params"]) for a in answered] == [
        ("旧的提醒消息", "", {})
    ]


def test_a_persons_assignment_note_is_kept_as_written(make_case, world):
    case = make_case()
    with translation.override("en"):
        case_assign(case=case, actor=world.sub_dispatcher, mediator=world.mediator, note="请尽快联系双方")
    row = case.events.get(action="assign")
    assert row.note == "请尽快联系双方" and texts.NOTE_CODE not in row.payload
    with translation.override("en"):
        assert row.note_text == "请尽快联系双方"


def test_the_default_assignment_note_reads_per_reader(make_case, world):
    case = make_case()
    with translation.override("en"):
        case_assign(case=case, actor=world.sub_dispatcher, mediator=world.mediator)
    row = case.events.get(action="assign")
    assert row.payload[texts.NOTE_CODE] == texts.ASSIGNED
    with translation.override("zh-hans"):  # stored in the city's language, whoever wrote it
        assert row.note == texts.sentence(texts.ASSIGNED, row.payload[texts.NOTE_PARAMS])
    with translation.override("en"):
        # the name as it is, no role word before it ("mediator 调解员 周芳" said the role twice)
        assert row.note_text == f"Assigned to {world.mediator.display_name} of {world.org.name}."


# --- the reminder sweep and the backlog leader --------------------------------------------------------


def test_reminders_are_stored_as_codes_and_read_per_reader(make_case, assigned_case, world):
    case = assigned_case(received_at=timezone.now() - timedelta(days=40))
    with translation.override("en"):  # whatever language the worker happens to run in
        reminders_sweep()
    alert = DisputeAlert.objects.get(case=case, kind=AlertKind.TARGET_NEAR)
    day = timezone.localdate(case.target_at).isoformat()
    assert alert.message_code == texts.TARGET_PAST and alert.message_params == {
        "number": case.number,
        "date": day,
    }
    assert CJK.search(alert.message)
    row = case.events.get(action="remind")
    assert row.payload[texts.NOTE_CODE] == texts.TARGET_PAST and row.payload["kind"] == AlertKind.TARGET_NEAR
    with translation.override("en"):
        expected = f"Dispute case {case.number} is past its one-month target ({day})."
        assert alert.text == expected and row.note_text == expected
    with translation.override("zh-hans"):
        assert alert.text == f"纠纷案件 {case.number} 已超过一个月办结期限（{day}）。"


def test_the_named_backlog_leader_is_alerted_in_their_language(make_case, world):
    case = make_case()
    deadline = timezone.localdate() + timedelta(days=60)
    with translation.override("en"):
        case_mark_backlog(
            case=case, actor=world.sub_dispatcher, deadline=deadline.isoformat(), leader=world.leader
        )
    alert = DisputeAlert.objects.get(case=case, recipient=world.leader)
    assert alert.message_code == texts.BACKLOG_LEADER and alert.message.startswith("您是积案")
    with translation.override("en"):
        assert alert.text == (
            f"You are the responsible leader of backlog case {case.number} (time limit {deadline.isoformat()})."
        )


# --- online confirmation and texts to the parties ------------------------------------------------------


def test_a_partys_online_confirmation_reads_per_reader(agreed_case, world):
    case = agreed_case()
    captured = {}
    issued = confirmation_links_send(
        case=case, actor=world.mediator, build_url=lambda token: captured.setdefault("t", token) and token
    )
    token = captured["t"]
    agreement_confirm_online(token=token, ip="203.0.113.9")
    row = case.events.get(action="party_confirm")
    party = issued[0].party
    assert row.payload[texts.NOTE_CODE] == texts.PARTY_CONFIRMED
    assert row.payload[texts.NOTE_PARAMS]["role"] == party.role
    with translation.override("en"):
        assert (
            row.note_text
            == f"Applicant {party.masked_name} confirmed agreement {case.agreement.number} online."
        )
    assert row.note.startswith("申请人")


def test_texts_to_the_parties_are_in_the_citys_language(
    assigned_case, world, django_capture_on_commit_callbacks
):
    case = assigned_case()
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        online_session_schedule(
            case=case, actor=world.mediator, scheduled_at=timezone.now() + timedelta(days=1)
        )
    bodies = list(OutboundMessage.objects.values_list("body", flat=True))
    assert bodies and all(CJK.search(b) and "Online mediation" not in b for b in bodies)


# --- the window's queue notes --------------------------------------------------------------------------


def test_visit_notes_are_codes_a_typed_route_note_is_kept(world):
    with translation.override("en"):
        visit = visit_register(
            actor=world.window,
            centre=world.centre,
            area_code="peoples_mediation",
            matter="邻里纠纷",
            visitor_name="赵六",
            idempotency_key="texts-v1",
        ).visit
        visit_route(visit=visit, actor=world.window, area_code="legal_aid")
        visit_route(visit=visit, actor=world.window, area_code="peoples_mediation", note="当事人要求")
    queued, routed, typed = VisitEvent.objects.filter(visit=visit).order_by("pk")
    assert queued.payload[texts.NOTE_CODE] == texts.VISIT_QUEUED and CJK.search(queued.note)
    assert routed.payload[texts.NOTE_CODE] == texts.VISIT_ROUTED and routed.note.startswith("由")
    assert texts.NOTE_CODE not in typed.payload and typed.note == "当事人要求"
    with translation.override("en"):
        assert queued.note_text.startswith("Queued at ") and routed.note_text.startswith("From ")
        assert typed.note_text == "当事人要求"


# --- a case from a ticket ---------------------------------------------------------------------------


def test_a_case_from_a_ticket_links_it_in_each_readers_words(client, world, hotline, nanshan_building):
    from zhiwang.tickets.services import ticket_submit

    ticket = ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="邻居长期占用楼道堆放杂物，多次沟通无果。",
        address_code=nanshan_building.code,
        reporter_name="林晓",
        reporter_phone="13800138000",
        external_id="texts-t1",
        actor=hotline,
    ).ticket
    with translation.override("en"):  # converted by somebody browsing in English
        case = case_from_ticket(
            actor=hotline, ticket_number=ticket.number, category="neighbours", parties=parties()
        ).case
    linked = case.events.get(action="note")
    assert linked.payload[texts.NOTE_CODE] == texts.TICKET_LINKED and linked.note.startswith("关联工单")
    with translation.override("en"):
        assert linked.note_text.startswith(f"Linked to ticket {ticket.number} (")
    # What the ticket keeps in plain text (its reply, which the citizen reads) is in the city's language.
    ticket.refresh_from_db()
    assert "Transferred" not in ticket.reply and CJK.search(ticket.reply)
    # The ticket's history on the case page is worded for the reader, as on the ticket's own page.
    client.force_login(hotline)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    history = page.split("History of ticket", 1)[1].split("</section>", 1)[0]
    assert "Received via 12345 hotline." in history and "→ receive" not in history


def test_system_text_refuses_an_unknown_code():
    with pytest.raises(ValueError):
        texts.SystemText("no_such_code", {})
    assert json.loads(json.dumps(texts.SystemText(texts.REGISTERED, {"source": "grid"}).note_keys()))


# --- a damaged row is shown as stored -----------------------------------------------------------------


def test_a_damaged_row_is_shown_as_stored_and_logged_once(client, make_case, world, caplog, monkeypatch):
    """Parameters stored as a list, a list where a changed field's name belongs, a payload that is
    no mapping: the page and the properties show the stored sentence, never a crash, and each row
    is logged once however often it is read."""
    monkeypatch.setattr(texts, "_LOGGED_ROWS", set())  # ids of other tests' rows may come again
    case = make_case()
    row = {
        "case": case,
        "actor": None,
        "action": "remind",
        "from_state": case.status,
        "to_state": case.status,
    }
    listed = CaseEvent.objects.create(
        **row,
        note="已指派（存储的句子）",
        payload={texts.NOTE_CODE: texts.ASSIGNED, texts.NOTE_PARAMS: ["x"]},
    )
    changed = CaseEvent.objects.create(
        **row,
        note="更正风险（本人所写）",
        payload={
            texts.CHANGE_CODE: texts.CASE_CHANGED,
            texts.CHANGE_PARAMS: {"changes": [{"field": ["risk"]}]},
        },
    )
    no_mapping = CaseEvent.objects.create(**row, note="载荷损坏的一行", payload=["note_code"])
    alert = DisputeAlert.objects.create(
        case=case,
        recipient=world.sub_dispatcher,
        kind=AlertKind.RED_RISK,
        message="红色风险（存储的消息）",
        message_code=texts.RED_RISK,
        message_params=["number"],
    )
    with caplog.at_level("WARNING", logger="zhiwang.disputes.texts"):
        for _ in range(3):
            with translation.override("en"):
                assert listed.note_text == "已指派（存储的句子）"
                assert changed.note_text == "更正风险（本人所写）" and changed.change_text == ""
                assert no_mapping.note_text == "载荷损坏的一行" and no_mapping.change_text == ""
                assert alert.text == "红色风险（存储的消息）"
        page = _page(client, world.sub_dispatcher, reverse("disputes:case_detail", args=[case.number]), "en")
    assert "已指派（存储的句子）" in page and "更正风险（本人所写）" in page
    # the API answers them too (its params fields read a damaged value as empty), never a 500
    detail = client.get(f"{API}/cases/{case.number}")
    assert detail.status_code == 200
    damaged = {e["note"]: e for e in detail.json()["events"]}
    assert damaged["已指派（存储的句子）"]["note_params"] == {}
    assert damaged["载荷损坏的一行"]["note_code"] == ""
    alerts = client.get(f"{API}/alerts")
    assert alerts.status_code == 200
    assert any(a["message_params"] == {} for a in alerts.json()["items"])
    logged = [r.getMessage() for r in caplog.records if r.name == "zhiwang.disputes.texts"]
    assert sorted(logged) == sorted(
        [
            f"CaseEvent:{listed.pk}: stored text 'assigned' cannot be worded; shown as stored",
            f"CaseEvent:{changed.pk}: stored text 'case_changed' cannot be worded; shown as stored",
            f"DisputeAlert:{alert.pk}: stored text 'red_risk' cannot be worded; shown as stored",
        ]
    )
