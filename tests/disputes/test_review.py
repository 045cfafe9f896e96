"""Regression tests of the review pass: leaks across users and divisions, masking in documents,
concurrency and stale versions, local-calendar deadlines. Each failed before its fix."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.disputes.conftest import APPLICANT_ID, RESPONDENT_ID, parties
from tests.threads import needs_row_locks, run_in_threads
from zhiwang.core.errors import Conflict, PermissionDeniedError, ServiceError
from zhiwang.disputes.models import CaseEvent, DisputeAlert, DisputeCase, Visit
from zhiwang.disputes.selectors import alerts_for, case_visible
from zhiwang.disputes.services import (
    agreement_reach,
    case_assign,
    case_extend,
    case_register,
    case_update,
    visit_register,
)
from zhiwang.disputes.services.common import add_months

pytestmark = pytest.mark.django_db

BASE = "/api/v1/disputes"


def post(client, url, data):
    return client.post(BASE + url, data=json.dumps(data), content_type="application/json")


def _local(*args) -> datetime:
    """A local (Shenzhen) wall-clock time, as the database hands it back: in UTC."""
    return timezone.make_aware(datetime(*args)).astimezone(UTC)


# --- idempotency keys belong to their caller -------------------------------------------------


def test_one_users_idempotency_key_never_returns_another_users_case(client, world, make_case):
    nanshan = make_case(idempotency_key="shared-key")
    client.force_login(world.lh_dispatcher)
    body = {
        "facts": "罗湖的纠纷",
        "category": "neighbours",
        "division": world.lh_community.code,
        "parties": parties(),
        "source": "petition",
        "idempotency_key": "shared-key",
    }
    answer = post(client, "/cases", body)
    assert answer.status_code == 201, answer.content
    assert answer.json()["number"] != nanshan.number
    assert DisputeCase.objects.filter(idempotency_key__endswith=":shared-key").count() == 2


# --- who sees what ------------------------------------------------------------------------------


def test_grid_workers_neither_register_nor_see_cases(client, world, make_case, grid_worker):
    case = make_case()
    with pytest.raises(PermissionDeniedError):
        case_register(
            actor=grid_worker,
            title="t",
            facts="f",
            category="neighbours",
            division=world.community,
            parties=parties(),
        )
    client.force_login(grid_worker)
    assert client.get(f"{BASE}/cases/{case.number}").status_code == 404
    assert client.get(f"{BASE}/cases").json()["count"] == 0


def test_a_window_operator_sees_their_centre_not_cases_registered_before_moving(world):
    result = case_register(
        actor=world.window,
        title="直接登记",
        facts="窗口直接登记的纠纷",
        category="neighbours",
        division=world.community,
        parties=parties(),
        source="window",
    )
    case = result.case
    assert case.centre == world.centre  # registered at the operator's centre, visit or not
    assert case_visible(world.window).filter(pk=case.pk).exists()
    world.window.org_unit = world.lh_centre.org_unit  # moved to Luohu's centre
    world.window.save(update_fields=["org_unit"])
    assert not case_visible(world.window).filter(pk=case.pk).exists()


def test_alerts_follow_what_the_user_may_still_see(world, make_case):
    case = case_assign(case=make_case(), actor=world.sub_dispatcher, mediator=world.mediator)
    assert DisputeAlert.objects.filter(case=case, recipient=world.mediator).exists()
    assert alerts_for(user=world.mediator).filter(case=case).exists()
    case_assign(case=case, actor=world.sub_dispatcher, mediator=world.mediator2)
    from zhiwang.disputes.services import mediator_enrol

    mediator_enrol(user=world.mediator, organisation=world.lh_org)  # moved to another committee
    world.mediator.__dict__.pop("_dispute_org_id", None)
    assert not alerts_for(user=world.mediator).filter(case=case).exists()


def test_every_case_endpoint_answers_404_outside_and_writes_nothing(client, world, agreed_case):
    case = agreed_case()
    events = CaseEvent.objects.filter(case=case).count()
    n = case.number
    posts = {
        f"/cases/{n}/parties/reveal": {"reason": "x"},
        f"/cases/{n}/assign": {},
        f"/cases/{n}/sessions": {"record": "r"},
        f"/cases/{n}/agreement": {"form": "oral"},
        f"/cases/{n}/agreement/confirmation": {"court": "c"},
        f"/cases/{n}/follow-ups": {"status": "performed"},
        f"/cases/{n}/refer": {"kind": "litigation", "reason": "r"},
        f"/cases/{n}/close": {"outcome": "success"},
    }
    gets = [f"/cases/{n}", f"/cases/{n}/parties", f"/cases/{n}/sessions"]
    for outsider in (world.lh_dispatcher, world.lh_mediator, world.lh_window):
        client.force_login(outsider)
        for url, body in posts.items():
            answer = post(client, url, body)
            assert answer.status_code == 404, (outsider.username, url, answer.content)
            assert answer.json()["error"]["code"] == "not_found"
        for url in gets:
            assert client.get(BASE + url).status_code == 404, (outsider.username, url)
        for action in ("reveal", "session", "close", "refer", "note", "assign", "backlog"):
            page = client.post(
                reverse("disputes:case_action", args=[n, action]), {"reason": "x", "note": "x"}
            )
            assert page.status_code == 404, (outsider.username, action)
        for fmt in ("pdf", "docx"):
            url = reverse("disputes:agreement_document", args=[n, fmt])
            assert client.post(url, {"reason": "x"}).status_code == 404
        export = client.get(reverse("disputes:ledger_export"))
        assert n.encode() not in export.content  # xlsx is zipped: the case is simply not there
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(export.content)).active
        assert all(row[1] != n for row in sheet.iter_rows(min_row=4, values_only=True))
    assert CaseEvent.objects.filter(case=case).count() == events


# --- personal data in documents and forms --------------------------------------------------------


def _docx_text(content: bytes) -> str:
    from docx import Document

    return "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)


def test_agreement_documents_are_masked_unless_printed_in_full_with_a_reason(client, world, agreed_case):
    case = agreed_case()
    case.parties.filter(role="applicant").update(address="深圳市南山区粤海街道科技园路88号1栋2单元301")
    # Free text repeats the applicant's name and phone: masked there too.
    case.agreement.terms = "被申请人向张三丰支付人民币5000元，联系电话13800138001。"
    case.agreement.save(update_fields=["terms"])
    client.force_login(world.mediator)
    url = reverse("disputes:agreement_document", args=[case.number, "docx"])
    masked = _docx_text(client.get(url).content)
    applicant_line = next(line for line in masked.splitlines() if line.startswith("申请人"))
    assert APPLICANT_ID not in masked and "13800138001" not in masked
    assert "张三丰" not in masked and "张**" in applicant_line
    assert "支付人民币5000元" in masked  # the rest of the terms are intact
    assert "科技园路88号" not in masked
    assert not CaseEvent.objects.filter(case=case, action="reveal_parties").exists()
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400 and "field-error" in refused.content.decode()
    assert not CaseEvent.objects.filter(case=case, action="reveal_parties").exists()
    assert (
        client.post(
            reverse("disputes:agreement_document", args=[case.number, "txt"]), {"reason": "x"}
        ).status_code
        == 404
    )
    assert not CaseEvent.objects.filter(case=case, action="reveal_parties").exists()
    full = _docx_text(client.post(url, {"reason": "双方签字"}).content)
    assert APPLICANT_ID in full and "张三丰" in full and "科技园路88号" in full
    logged = CaseEvent.objects.get(case=case, action="reveal_parties")
    assert "双方签字" in logged.note and logged.actor == world.mediator
    client.force_login(world.leader)  # sees the case (jurisdiction) but may not unmask it
    assert client.post(url, {"reason": "看看"}).status_code == 403
    assert CaseEvent.objects.filter(case=case, action="reveal_parties").count() == 1


def test_printing_in_full_needs_a_post_with_csrf_and_never_takes_the_reason_from_the_url(world, agreed_case):
    from django.test import Client

    case = agreed_case()
    url = reverse("disputes:agreement_document", args=[case.number, "pdf"])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.mediator)
    # The old link form: refused (405), nothing revealed, nothing logged.
    old = browser.get(url + "?full=1&reason=双方签字")
    assert old.status_code == 405 and not old.content.startswith(b"%PDF")
    # A POST without the CSRF token (another site's form): refused.
    assert browser.post(url, {"reason": "双方签字"}).status_code == 403
    assert not CaseEvent.objects.filter(case=case, action="reveal_parties").exists()
    # The case page's form carries the token and posts the reason in the body.
    page = browser.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    form = page[page.index('data-testid="print-full"') :]
    assert 'method="post"' in page[page.rindex("<form", 0, page.index('data-testid="print-full"')) :][:200]
    token = form.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    printed = browser.post(url, {"reason": "双方签字", "csrfmiddlewaretoken": token})
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
    logged = CaseEvent.objects.get(case=case, action="reveal_parties")
    assert "双方签字" in logged.note and "PDF" in logged.note and logged.actor == world.mediator


def test_case_form_from_a_visit_keeps_the_visitors_data_off_the_page(client, world):
    visit = visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="邻里漏水纠纷",
        visitor_name="王大锤",
        visitor_id_number=APPLICANT_ID,
        visitor_phone="13712345678",
        idempotency_key="v-form",
    ).visit
    client.force_login(world.mediator)
    url = reverse("disputes:case_new") + f"?visit={visit.number}"
    page = client.get(url).content.decode()
    assert "王大锤" not in page and APPLICANT_ID not in page and "13712345678" not in page
    assert "王**" in page
    response = client.post(
        url,
        {
            "token": "t-visit-form",
            "facts": "邻里漏水纠纷",
            "category": "neighbours",
            "party0_visitor": "1",
            "party0_role": "applicant",
            "party1_role": "respondent",
            "party1_name": "李四海",
            "party1_identifier": RESPONDENT_ID,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    case = DisputeCase.objects.get(visit=visit)
    applicant = case.parties.get(role="applicant")
    assert (applicant.name, applicant.identifier, applicant.phone) == ("王大锤", APPLICANT_ID, "13712345678")


def test_revealed_parties_show_their_roles(client, world, make_case):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    page = client.post(
        reverse("disputes:case_action", args=[case.number, "reveal"]), {"reason": "联系当事人"}
    )
    rows = page.content.decode().split('data-testid="revealed"')[1:]
    assert len(rows) == 2 and "申请人" in rows[0] and "被申请人" in rows[1]


# --- concurrency, stale versions, bad input -------------------------------------------------------


def test_a_stale_version_loses_even_when_the_state_stays(client, world, assigned_case):
    case = assigned_case()
    stale = DisputeCase.objects.get(pk=case.pk)
    case_update(case=case, actor=world.sub_dispatcher, risk="yellow", note="复核")
    with pytest.raises(Conflict):
        case_update(case=stale, actor=world.sub_dispatcher, amount="99999")
    case.refresh_from_db()
    assert case.amount != 99999 and case.events.filter(action="update").count() == 1
    client.force_login(world.mediator)
    old = case.version - 1
    answer = post(
        client, f"/cases/{case.number}/refer", {"kind": "litigation", "reason": "起诉", "version": old}
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "workflow.conflict"
    case.refresh_from_db()
    assert case.status == "assigned" and not case.referral_kind
    fresh = post(
        client,
        f"/cases/{case.number}/refer",
        {"kind": "litigation", "reason": "起诉", "version": case.version},
    )
    assert fresh.status_code == 200 and fresh.json()["status"] == "referred"


def test_a_visit_opened_twice_is_a_clear_error_not_a_crash(world):
    visit = visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="物业纠纷",
        visitor_name="赵六",
        idempotency_key="v-twice",
    ).visit
    stale = Visit.objects.get(pk=visit.pk)  # a second window had the queue open
    common = {
        "actor": world.window,
        "title": "物业纠纷",
        "facts": "物业纠纷",
        "category": "property_management",
        "division": None,
        "parties": parties(),
    }
    case_register(visit=visit, **common)
    before = DisputeCase.objects.count()
    with pytest.raises(ServiceError) as caught:
        case_register(visit=stale, **common)
    assert caught.value.code == "disputes.visit_not_open" and caught.value.field == "visit"
    assert DisputeCase.objects.count() == before


def test_a_session_time_without_zone_is_local_time(client, world, assigned_case):
    case = assigned_case()
    client.force_login(world.mediator)
    held = timezone.localtime() - timedelta(hours=2)
    naive = held.replace(tzinfo=None, microsecond=0).isoformat()
    answer = post(client, f"/cases/{case.number}/sessions", {"record": "当面调解", "held_at": naive})
    assert answer.status_code == 201, answer.content
    stored = case.sessions.get().held_at
    assert timezone.localtime(stored).replace(tzinfo=None) == held.replace(tzinfo=None, microsecond=0)


def test_a_mediator_registers_for_their_committee_and_keeps_the_case(client, world):
    client.force_login(world.mediator)
    body = {
        "facts": "调委会直接受理的纠纷",
        "category": "neighbours",
        "division": world.community.code,
        "parties": parties(),
        "source": "application",
        "idempotency_key": "med-1",
    }
    answer = post(client, "/cases", body)
    assert answer.status_code == 201, answer.content
    number = answer.json()["number"]
    assert answer.json()["organisation"]["code"] == world.org.code
    assert client.get(f"{BASE}/cases/{number}").status_code == 200
    assigned = post(client, f"/cases/{number}/assign", {"mediator": world.mediator.username})
    assert assigned.status_code == 200 and assigned.json()["mediator"] == world.mediator.username


# --- deadlines on the local calendar -----------------------------------------------------------------


def test_one_month_target_is_counted_on_the_local_calendar():
    # 01:00 on 1 March in Shenzhen is still 29 February in UTC.
    assert timezone.localdate(add_months(_local(2024, 3, 1, 1, 0))) == datetime(2024, 4, 1).date()
    assert timezone.localdate(add_months(_local(2024, 1, 31, 5, 0))) == datetime(2024, 2, 29).date()
    assert timezone.localdate(add_months(_local(2024, 12, 15, 23, 30))) == datetime(2025, 1, 15).date()


def test_extension_lands_on_the_requested_local_day(world, make_case):
    received = timezone.localtime().replace(hour=2, minute=0, second=0, microsecond=0) - timedelta(days=1)
    case = case_assign(
        case=make_case(received_at=received), actor=world.sub_dispatcher, mediator=world.mediator
    )
    case.refresh_from_db()  # as a page or the API loads it: target_at in UTC
    assert timezone.localtime(case.target_at).hour == 2
    later = timezone.localdate(case.target_at) + timedelta(days=10)
    case_extend(case=case, actor=world.mediator, until=later.isoformat(), reason="双方同意延长")
    case.refresh_from_db()
    assert timezone.localdate(case.target_at) == later


def test_confirmation_window_is_thirty_calendar_days_after_signing(world, mediating_case):
    from zhiwang.disputes.services import confirmation_apply, confirmation_deadline

    signed = date(2025, 3, 3)  # the 30th day, 2 April 2025, is a working day
    # Registered that morning: an agreement cannot be signed before the case was registered.
    case = mediating_case(received_at=timezone.make_aware(datetime(2025, 3, 3, 9, 0)))
    agreement = agreement_reach(
        case=case,
        actor=world.mediator,
        form="written",
        terms="赔偿",
        performance_manner="转账",
        performance_deadline=(signed + timedelta(days=60)).isoformat(),
        signed_on=signed.isoformat(),
    )
    assert confirmation_deadline(agreement) == signed + timedelta(days=30)
    case.refresh_from_db()
    ok = confirmation_apply(
        case=case, actor=world.mediator, applied_on=signed + timedelta(days=30), court="南山法院"
    )
    assert ok.confirmation_status == "applied"


# --- a retry racing the first request -----------------------------------------------------------


def test_a_racing_retry_is_caught_by_the_unique_key_and_leaves_nothing(monkeypatch, world, make_case):
    from zhiwang.disputes.models import Party
    from zhiwang.disputes.services import registration as cases_module

    first = make_case(idempotency_key="race-1")
    parties_before, events_before = Party.objects.count(), CaseEvent.objects.count()
    monkeypatch.setattr(cases_module, "_existing_case", lambda key: None)  # the retry's first look missed
    again = make_case(idempotency_key="race-1")
    assert again.pk == first.pk
    assert DisputeCase.objects.filter(idempotency_key__endswith=":race-1").count() == 1
    assert (Party.objects.count(), CaseEvent.objects.count()) == (parties_before, events_before)


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_two_identical_registrations_at_the_same_moment_make_one_case(transactional_db):
    from zhiwang.accounts.models import User
    from zhiwang.disputes.defaults import defaults_seed
    from zhiwang.geo.models import Division

    defaults_seed()
    division = Division.objects.create(code="440399000000", name="测试区", level="district")
    admin = User.objects.create(username="race_admin", role="administrator")

    def register():
        return case_register(
            actor=admin,
            title="并发",
            facts="同一请求重试两次",
            category="neighbours",
            division=division,
            parties=parties(),
            source="proactive",
            idempotency_key="same-moment",
        )

    results = run_in_threads(register, register)
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.created for r in results) == [False, True]
    assert results[0].case.pk == results[1].case.pk
    assert DisputeCase.objects.count() == 1
