"""The pages: window registration and queues, case form, workbench, case actions, ledger and its export, documents."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.disputes.conftest import APPLICANT_ID, RESPONDENT_ID
from zhiwang.disputes.models import CaseStatus, DisputeCase, Visit

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def test_window_registers_and_shows_the_queue(client, world):
    login(client, world.window)
    page = client.get(reverse("disputes:window"))
    assert page.status_code == 200 and "人民调解" in page.content.decode()
    token = page.context["token"]
    data = {
        "token": token,
        "centre": world.centre.pk,
        "visitor_name": "张三丰",
        "visitor_id_number": APPLICANT_ID,
        "visitor_phone": "13800138001",
        "area": "peoples_mediation",
        "matter": "邻里噪音纠纷",
    }
    response = client.post(reverse("disputes:window"), data)
    assert response.status_code == 302
    again = client.post(reverse("disputes:window"), data)  # double click: same token
    assert again.status_code == 302 and Visit.objects.count() == 1
    page = client.get(reverse("disputes:window")).content.decode()
    assert "张**" in page and "张三丰" not in page and APPLICANT_ID not in page


def test_window_shows_each_user_only_the_buttons_they_may_press(client, world):
    from zhiwang.disputes.services import visit_register

    visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="邻里噪音纠纷",
        visitor_name="张三丰",
        idempotency_key="buttons-1",
    )
    operator = login(client, world.window).get(reverse("disputes:window")).content.decode()
    for action in ('value="call"', 'value="route"', 'value="complete"', 'data-testid="open-case"'):
        assert action in operator
    client.logout()
    looker = login(client, world.sub_dispatcher).get(reverse("disputes:window"))
    assert looker.status_code == 200
    body = looker.content.decode()
    assert 'data-testid="visit"' in body  # the dispatcher sees the queue …
    for action in ('value="call"', 'value="route"', 'value="complete"', 'data-testid="open-case"'):
        assert action not in body  # … and no button that would answer 403


def test_window_bad_input_shows_chinese_errors(client, world):
    login(client, world.window)
    response = client.post(
        reverse("disputes:window"), {"token": "t1", "area": "peoples_mediation", "matter": ""}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "请填写来访人姓名" in body or "姓名" in body
    assert not Visit.objects.exists()


def test_case_form_from_a_visit_assigns_fairly(client, world):
    from zhiwang.disputes.services import visit_register

    visit = visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="噪音纠纷",
        visitor_name="张三丰",
        idempotency_key="v1",
    ).visit
    login(client, world.window)
    url = reverse("disputes:case_new") + f"?visit={visit.number}"
    assert client.get(url).status_code == 200
    missing = client.post(
        url,
        {
            "token": "c1",
            "category": "neighbours",
            "facts": "噪音",
            "party0_role": "applicant",
            "party0_name": "张三丰",
        },
    )
    assert missing.status_code == 400 and missing.context["errors"]["parties"]
    assert not DisputeCase.objects.exists()
    response = client.post(
        url,
        {
            "token": "c2",
            "category": "neighbours",
            "facts": "楼上夜间噪音",
            "risk": "blue",
            "amount": "0",
            "people_involved": "2",
            "assign": "auto",
            "party0_role": "applicant",
            "party0_kind": "person",
            "party0_name": "张三丰",
            "party0_identifier": APPLICANT_ID,
            "party1_role": "respondent",
            "party1_kind": "person",
            "party1_name": "李四海",
            "party1_identifier": RESPONDENT_ID,
        },
    )
    case = DisputeCase.objects.get()
    assert response.status_code == 302 and response.url == reverse("disputes:case_detail", args=[case.number])
    assert (
        case.status == CaseStatus.ASSIGNED and case.organisation == world.org and case.centre == world.centre
    )


def test_mediator_works_the_case_from_the_page(client, assigned_case, world):
    case = assigned_case()
    login(client, world.mediator)
    assert case.number in client.get(reverse("disputes:workbench")).content.decode()
    detail = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert APPLICANT_ID not in detail and "张**" in detail
    act = lambda name, data: client.post(reverse("disputes:case_action", args=[case.number, name]), data)  # noqa: E731
    assert act("session", {"record": "双方到场", "place": "调解室"}).status_code == 302
    bad = act(
        "agreement",
        {"form": "written", "terms": "赔偿2000元", "performance_manner": "", "performance_deadline": ""},
    )
    assert bad.status_code == 400 and "performance_manner" in bad.context["errors"]
    deadline = (timezone.localdate() + timedelta(days=10)).isoformat()
    ok = act(
        "agreement",
        {
            "form": "written",
            "terms": "赔偿2000元",
            "performance_manner": "现金",
            "performance_deadline": deadline,
            "signed_on": timezone.localdate().isoformat(),
        },
    )
    assert ok.status_code == 302
    no_outcome = act("close", {"outcome": ""})
    assert no_outcome.status_code == 400 and no_outcome.context["errors"]["outcome"]
    case.refresh_from_db()
    assert case.status == CaseStatus.AGREED
    pdf = client.get(reverse("disputes:agreement_document", args=[case.number, "pdf"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    full = {"reason": "双方签字"}
    pdf = client.post(reverse("disputes:agreement_document", args=[case.number, "pdf"]), full)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    docx = client.post(reverse("disputes:agreement_document", args=[case.number, "docx"]), full)
    from docx import Document

    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert APPLICANT_ID in text  # the mediator prints it in full, with a reason …
    assert (
        case.events.filter(action="reveal_parties", actor=world.mediator).count() == 2
    )  # … and that is logged (the masked print is not)


def test_outsiders_get_404_and_other_roles_403(client, assigned_case, world, citizen):
    case = assigned_case()
    login(client, world.lh_mediator)
    assert client.get(reverse("disputes:case_detail", args=[case.number])).status_code == 404
    assert (
        client.post(
            reverse("disputes:case_action", args=[case.number, "close"]), {"outcome": "failed"}
        ).status_code
        == 404
    )
    login(client, citizen)
    assert client.get(reverse("disputes:ledger")).status_code == 403


def test_reveal_from_the_page_is_logged(client, assigned_case, world):
    case = assigned_case()
    login(client, world.sub_dispatcher)
    response = client.post(
        reverse("disputes:case_action", args=[case.number, "reveal"]), {"reason": "通知当事人"}
    )
    assert APPLICANT_ID in response.content.decode()
    assert case.events.filter(action="reveal_parties", actor=world.sub_dispatcher).exists()


def test_ledger_and_excel_export_masked_unless_full(client, assigned_case, make_case, world):
    from openpyxl import load_workbook

    case = assigned_case()
    make_case(actor=world.lh_dispatcher, division=world.lh_community, title="罗湖的纠纷")
    login(client, world.sub_dispatcher)
    page = client.get(reverse("disputes:ledger"), {"by": "category"})
    body = page.content.decode()
    assert case.number in body and "罗湖的纠纷" not in body
    near = client.get(reverse("disputes:ledger"), {"near": "1"})
    assert case.number not in near.content.decode()  # a month away
    bad = client.get(reverse("disputes:ledger"), {"division": "999"})
    assert bad.status_code == 400
    today = timezone.localdate()
    dated = client.get(
        reverse("disputes:ledger"),
        {"received_from": today.isoformat(), "received_to": (today + timedelta(days=1)).isoformat()},
    )
    assert case.number in dated.content.decode()
    before = client.get(reverse("disputes:ledger"), {"received_to": today.isoformat()})
    assert case.number not in before.content.decode()
    assert client.get(reverse("disputes:ledger"), {"received_from": "2026-13-40"}).status_code == 400
    export = client.get(reverse("disputes:ledger_export"))
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert len(rows) == 1 and rows[0][1] == case.number and rows[0][6] == "张**"
    full = client.post(reverse("disputes:ledger_export"), {"reason": "报送司法局"})
    rows = list(load_workbook(io.BytesIO(full.content)).active.iter_rows(min_row=4, values_only=True))
    assert rows[0][6] == "张三丰"
    assert case.events.filter(action="reveal_parties", note__contains="报送司法局").exists()
    login(client, world.mediator)
    refused = client.post(reverse("disputes:ledger_export"), {"reason": "x"})
    assert refused.status_code == 302
    # The reason never travels in the URL: the old link form is refused and logs nothing.
    login(client, world.sub_dispatcher)
    logged = case.events.filter(action="reveal_parties").count()
    assert client.get(reverse("disputes:ledger_export"), {"full": "1", "reason": "x"}).status_code == 405
    assert case.events.filter(action="reveal_parties").count() == logged


def test_home_shows_indicators_and_alerts(client, make_case, world):
    make_case(risk="red")
    login(client, world.leader)
    body = client.get(reverse("disputes:home")).content.decode()
    assert "红" in body or "Red" in body
    assert 'data-testid="indicators"' in body


def test_case_form_from_a_ticket(client, world, hotline, nanshan_building):
    from zhiwang.tickets.services import ticket_submit

    ticket = ticket_submit(
        channel="hotline",
        kind="complaint",
        category="010214",
        description="邻居装修噪音持续到深夜，多次协商无果。",
        address_code=nanshan_building.code,
        external_id="page-conv",
        actor=hotline,
    ).ticket
    login(client, world.sub_dispatcher)
    url = reverse("disputes:case_new") + f"?ticket={ticket.number}"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "token": "t-conv",
            "category": "neighbours",
            "risk": "yellow",
            "party0_role": "applicant",
            "party0_name": "张三丰",
            "party1_role": "respondent",
            "party1_name": "李四海",
        },
    )
    case = DisputeCase.objects.get(ticket=ticket)
    assert response.status_code == 302 and case.source == "ticket" and case.status == CaseStatus.RECEIVED
    detail = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert ticket.number in detail  # the ticket's history is shown on the case


def test_visit_actions_from_the_queue(client, world):
    from zhiwang.disputes.services import visit_register

    visit = visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="咨询",
        visitor_name="王五",
        idempotency_key="q1",
    ).visit
    login(client, world.window)
    url = reverse("disputes:visit_action", args=[visit.number])
    assert client.post(url, {"action": "call"}).status_code == 302
    assert client.post(url, {"action": "route", "area": "legal_aid"}).status_code == 302
    client.post(url, {"action": "complete", "note": "已解答"})
    visit.refresh_from_db()
    assert visit.status == "done" and visit.area.code == "legal_aid"
    login(client, world.lh_window)
    assert client.post(url, {"action": "call"}).status_code == 404


def test_organisation_registry_shows_workload(client, assigned_case, world):
    assigned_case()
    login(client, world.sub_dispatcher)
    body = client.get(reverse("disputes:organisations")).content.decode()
    assert world.org.name in body and world.lh_org.name not in body
    assert "(1/20)" in body


def test_alerts_are_marked_read(client, make_case, world):
    from zhiwang.disputes.models import DisputeAlert

    make_case(risk="red")
    login(client, world.leader)
    assert DisputeAlert.objects.filter(recipient=world.leader, read_at__isnull=True).count() == 1
    assert client.post(reverse("disputes:alerts_read")).status_code == 302
    assert not DisputeAlert.objects.filter(recipient=world.leader, read_at__isnull=True).exists()
