"""Fourth browser walkthrough, disputes: the case form offers "assign at once" only to whoever may
assign the case they register (never the 12345 hotline, whatever is sent) and starts the source
from where the registering user works; the ledger refuses a period that ends before it begins (the
page on its field, the API with a stable code); the case page shows an empty list of sessions
outside the list and every amount with thousands separated.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.disputes.conftest import APPLICANT_ID, RESPONDENT_ID
from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import CaseStatus, DisputeCase
from zhiwang.disputes.selectors import case_list, dispute_indicators, ledger_summary
from zhiwang.disputes.workflow import CaseAction

pytestmark = pytest.mark.django_db

API = "/api/v1/disputes"
CASE_NEW = reverse("disputes:case_new")
LEDGER = reverse("disputes:ledger")
REFUSED = "您无权"  # the start of the workflow's refusal ("您无权在此执行"分派"操作。")


def _login(client, user, language="zh-hans"):
    client.force_login(user)
    client.cookies["django_language"] = language


def _case_form(world, token: str, **extra) -> dict:
    return {
        "token": token,
        "title": "楼道堆物纠纷",
        "facts": "邻居在楼道长期堆放杂物，双方多次争吵。",
        "category": "neighbours",
        "division": world.community.code,
        "risk": "blue",
        "amount": "0",
        "people_involved": "2",
        "party0_role": "applicant",
        "party0_kind": "person",
        "party0_name": "张三丰",
        "party0_identifier": APPLICANT_ID,
        "party1_role": "respondent",
        "party1_kind": "person",
        "party1_name": "李四海",
        "party1_identifier": RESPONDENT_ID,
        **extra,
    }


def _selected_source(html: str) -> str:
    """The source the menu shows: the one selected, else (nothing chosen yet) the first."""
    select = re.search(r'<select id="source" name="source">(.*?)</select>', html, re.S)
    assert select, "no source menu"
    chosen = re.findall(r'<option value="([^"]+)" selected>', select.group(1))
    assert len(chosen) <= 1, chosen
    return chosen[0] if chosen else re.findall(r'<option value="([^"]+)"', select.group(1))[0]


# --- 1. "assign at once" and the source on the case form -------------------------------------------


def test_hotline_is_not_offered_assign_at_once_and_starts_from_the_12345_source(client, world, hotline):
    _login(client, hotline)
    html = client.get(CASE_NEW).content.decode()
    assert 'name="assign"' not in html
    assert _selected_source(html) == "hotline"  # 12345热线来电, not 主动排查 (nor 工单转调解: no ticket)


def test_hotline_registers_without_assigning_even_when_assign_is_sent(client, world, hotline):
    _login(client, hotline)
    response = client.post(CASE_NEW, _case_form(world, "hl-1", assign="auto"), follow=True)
    case = DisputeCase.objects.get()
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("disputes:case_detail", args=[case.number])
    html = response.content.decode()
    assert REFUSED not in html  # nothing was tried for them: no refusal, no warning
    assert [m.level_tag for m in response.context["messages"]] == ["success"]  # registered, nothing else
    assert case.status == CaseStatus.RECEIVED and case.organisation is None and case.mediator is None
    assert not case.events.filter(action=CaseAction.ASSIGN).exists()
    assert case.source == "hotline"  # no source sent: the hotline's own


def test_window_operator_is_offered_assign_at_once_and_starts_from_the_window(client, world):
    _login(client, world.window)
    html = client.get(CASE_NEW).content.decode()
    assert re.search(r'<input type="checkbox" name="assign" value="auto" checked', html)
    assert _selected_source(html) == "window"
    response = client.post(CASE_NEW, _case_form(world, "win-1", assign="auto"), follow=True)
    case = DisputeCase.objects.get()
    assert REFUSED not in response.content.decode()
    assert case.source == "window" and case.centre == world.centre
    assert case.status == CaseStatus.ASSIGNED and case.organisation == world.org


@pytest.mark.parametrize("name", ["sub_dispatcher", "mediator", "admin"])
def test_who_may_assign_is_offered_the_box_and_keeps_the_proactive_default(client, world, name):
    _login(client, getattr(world, name))
    html = client.get(CASE_NEW).content.decode()
    assert re.search(r'<input type="checkbox" name="assign" value="auto" checked', html)
    assert _selected_source(html) == "proactive"
    assert (
        'value="ticket"' not in html and 'value="window"' not in html
    )  # theirs are found, applied, referred


def test_a_form_back_with_errors_keeps_the_box_as_it_was_sent(client, world):
    _login(client, world.sub_dispatcher)
    back = client.post(CASE_NEW, _case_form(world, "d-1", facts="", source="petition"))
    html = back.content.decode()
    assert back.status_code == 400
    assert re.search(r'<input type="checkbox" name="assign" value="auto" style', html)  # unticked stays so
    assert _selected_source(html) == "petition"


# --- 2. the ledger refuses a period that ends before it begins -----------------------------------


@pytest.mark.parametrize(
    "start, end",
    [("2026-11-20", "2026-11-01"), ("2026-11-20", "2026-11-20")],  # "received before" is exclusive
)
def test_ledger_refuses_a_reversed_period_on_its_field(client, world, make_case, start, end):
    make_case()
    _login(client, world.sub_dispatcher)
    response = client.get(LEDGER, {"received_from": start, "received_to": end})
    html = response.content.decode()
    assert response.status_code == 400
    assert response.context["errors"]["received_from"] == "开始日期必须早于结束日期。"
    assert (
        f'<input id="f-received-from" name="received_from" type="date" value="{start}" aria-invalid="true"'
        in html
    )
    assert 'id="f-received-from-error"' in html and "开始日期必须早于结束日期。" in html
    # no figures, no "as of" note, nothing listed; the form keeps what was typed
    assert 'data-testid="indicators"' not in html and 'data-testid="as-of-note"' not in html
    assert response.context["page"].paginator.count == 0 and response.context["summary"] == []
    assert f'name="received_to" type="date" value="{end}"' in html


def test_ledger_page_in_english_says_it_too(client, world):
    _login(client, world.sub_dispatcher, language="en")
    response = client.get(LEDGER, {"received_from": "2026-11-20", "received_to": "2026-11-01"})
    assert response.status_code == 400
    assert response.context["errors"]["received_from"] == "The start must be before the end."


def test_ledger_export_of_a_reversed_period_is_refused(client, world, make_case):
    make_case()
    _login(client, world.sub_dispatcher)
    response = client.get(
        reverse("disputes:ledger_export"), {"received_from": "2026-11-20", "received_to": "2026-11-01"}
    )
    assert response.status_code == 302 and response.url == LEDGER


def test_selectors_refuse_a_reversed_period(world):
    start = timezone.make_aware(datetime(2026, 11, 20))
    end = timezone.make_aware(datetime(2026, 11, 1))
    filters = {"received_from": start, "received_to": end}
    for call in (
        lambda: case_list(user=world.sub_dispatcher, filters=filters),
        lambda: ledger_summary(user=world.sub_dispatcher, by="division", filters=filters),
        lambda: dispute_indicators(user=world.sub_dispatcher, filters=filters),
    ):
        with pytest.raises(ServiceError) as caught:
            call()
        assert caught.value.code == "disputes.period_empty" and caught.value.field == "received_from"
    # an open-ended or ordered period is still read
    assert dispute_indicators(user=world.sub_dispatcher, since=end, until=start)["received"] == 0


def test_api_indicators_answer_400_on_a_reversed_period(client, world):
    _login(client, world.sub_dispatcher)
    response = client.get(
        API + "/indicators", {"since": "2026-11-20T00:00:00+08:00", "until": "2026-11-01T00:00:00+08:00"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "disputes.period_empty" and error["field"] == "since"
    assert [f["field"] for f in error["fields"]] == ["since"]
    fine = client.get(
        API + "/indicators", {"since": "2026-11-01T00:00:00+08:00", "until": "2026-11-20T00:00:00+08:00"}
    )
    assert fine.status_code == 200


# --- 3. the case page: an empty list, amounts -----------------------------------------------------


def test_case_page_shows_no_sessions_outside_a_list_and_amounts_with_separators(client, world, make_case):
    from zhiwang.disputes.services import case_update

    case = make_case()  # 3500 yuan involved
    case_update(case=case, actor=world.sub_dispatcher, amount="5000", note="核实金额")
    _login(client, world.sub_dispatcher)
    html = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    sessions = re.search(r"<h2>调解记录</h2>(.*?)</section>", html, re.S)
    assert sessions, "no sessions card"
    assert "<ol>" not in sessions.group(1) and "<li" not in sessions.group(1)
    assert re.search(r'<p class="hint" data-testid="no-sessions">[^<]+</p>', sessions.group(1))
    assert '<span data-testid="case-amount">5,000.00</span>' in html
    # the old and new amount on the timeline's correction row are not changed here (see the report)


def test_case_page_lists_sessions_when_there_are(client, world, mediating_case):
    case = mediating_case()
    _login(client, world.mediator)
    html = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert re.search(r'<ol><li data-testid="session">', html) and 'data-testid="no-sessions"' not in html
