"""Second browser walkthrough, disputes: the timeline says what a correction or an extension changed
(the risk colours, the new target date), an assignment names the mediator once, and the new-case
form shows a party's ID-number error under the ID number without giving away the right check digit.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tests.disputes.conftest import APPLICANT_ID
from zhiwang.disputes import texts
from zhiwang.disputes.models import CaseEvent
from zhiwang.disputes.services import case_extend, case_update

pytestmark = pytest.mark.django_db

API = "/api/v1/disputes"


def _page(client, user, url, language):
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get(url).content.decode()


def _timeline_row(html: str, action: str) -> str:
    timeline = re.search(r'data-testid="timeline">(.*?)</ul>', html, re.S).group(1)
    rows = re.findall(rf'<li data-action="{action}">(.*?)</li>', timeline, re.S)
    assert rows, f"no {action} row in the timeline"
    return rows[-1]


# --- a correction: the fields and their values before and after --------------------------------------


def test_a_risk_change_keeps_the_colours_as_params(assigned_case, world):
    case = assigned_case()
    case_update(case=case, actor=world.sub_dispatcher, risk="red", note="当事人情绪激动")
    row = case.events.filter(action="update").last()
    assert row.payload[texts.CHANGE_CODE] == texts.CASE_CHANGED
    assert row.payload[texts.CHANGE_PARAMS] == {"changes": [{"field": "risk", "from": "blue", "to": "red"}]}
    assert row.note == "当事人情绪激动"  # the person's words stay the note
    with translation.override("en"):
        assert row.change_text == "Risk colour: Blue → Red"
    with translation.override("zh-hans"):
        assert "风险等级" in row.change_text and re.search("蓝色.*→.*红色", row.change_text)


def test_several_changes_in_one_row_read_in_order(assigned_case, world):
    case = assigned_case()
    case_update(
        case=case,
        actor=world.sub_dispatcher,
        scale="group",
        people_involved=8,
        amount="12000",
        category="labour",
    )
    row = case.events.filter(action="update").last()
    changes = row.payload[texts.CHANGE_PARAMS]["changes"]
    assert [c["field"] for c in changes] == ["scale", "people_involved", "amount", "category"]
    assert changes[1] == {"field": "people_involved", "from": 2, "to": 8}  # a number stays a number
    with translation.override("en"):
        text = row.change_text
    assert text.startswith("Scale: Individual → Group (5 or more people); People involved: 2 → 8; ")
    assert "Amount involved (yuan): 3,500.00 → 12,000.00" in text  # as the case page prints amounts
    assert text.endswith(f"→ {case.category.name}")


def test_the_page_shows_the_change_instead_of_the_unchanged_state(client, assigned_case, world):
    case = assigned_case()
    case_update(case=case, actor=world.sub_dispatcher, risk="red")
    url = reverse("disputes:case_detail", args=[case.number])
    english = _timeline_row(_page(client, world.mediator, url, "en"), "update")
    assert 'data-testid="event-change">Risk colour: Blue → Red</span>' in english
    assert "Assigned → Assigned" not in english  # the state did not change: not said
    chinese = _timeline_row(_page(client, world.mediator, url, "zh-hans"), "update")
    change = re.search(r'data-testid="event-change">(.*?)</span>', chinese).group(1)
    assert "风险等级" in change and "蓝色" in change and "红色" in change
    assert "已分派 → 已分派" not in chinese


def test_an_old_correction_row_is_shown_as_before(client, assigned_case, world):
    case = assigned_case()
    old = CaseEvent.objects.create(
        case=case,
        actor=world.sub_dispatcher,
        action="update",
        from_state=case.status,
        to_state=case.status,
        note="",
        payload={"before": {"risk": "blue"}, "after": {"risk": "red"}},
        at=timezone.now(),
    )
    assert old.change_text == ""
    with translation.override("en"):
        row = _timeline_row(
            _page(client, world.mediator, reverse("disputes:case_detail", args=[case.number]), "en"), "update"
        )
    # no change line (the row predates it) and no "Assigned → Assigned": the state did not move
    assert "event-change" not in row and "Assigned → Assigned" not in row
    assert "<strong>Update the case</strong>" in row


# --- an extension: the new target date --------------------------------------------------------------


def test_an_extension_shows_the_new_target_date_beside_the_reason(client, assigned_case, world):
    case = assigned_case()
    before = timezone.localdate(case.target_at)
    until = before + timedelta(days=10)
    case_extend(case=case, actor=world.mediator, until=until.isoformat(), reason="双方同意延长")
    row = case.events.filter(action="extend").last()
    assert row.payload[texts.CHANGE_CODE] == texts.TARGET_MOVED
    assert row.payload[texts.CHANGE_PARAMS] == {"from": before.isoformat(), "to": until.isoformat()}
    assert row.note == "双方同意延长"
    with translation.override("en"):
        assert row.change_text == f"Target date moved from {before.isoformat()} to {until.isoformat()}."
    page = _timeline_row(
        _page(client, world.mediator, reverse("disputes:case_detail", args=[case.number]), "zh-hans"),
        "extend",
    )
    assert until.isoformat() in re.search(r'data-testid="event-change">(.*?)</span>', page).group(1)
    assert "双方同意延长" in page


def test_the_api_gives_the_change_with_its_code_and_params(client, assigned_case, world):
    case = assigned_case()
    case_update(case=case, actor=world.sub_dispatcher, risk="orange")
    client.force_login(world.sub_dispatcher)
    client.cookies["django_language"] = "en"
    events = client.get(f"{API}/cases/{case.number}").json()["events"]
    update = next(e for e in events if e["action"] == "update")
    assert update["change"] == "Risk colour: Blue → Orange"
    assert update["change_code"] == "case_changed"
    assert update["change_params"] == {"changes": [{"field": "risk", "from": "blue", "to": "orange"}]}
    receive = next(e for e in events if e["action"] == "receive")
    assert (receive["change"], receive["change_code"], receive["change_params"]) == ("", "", {})


# --- an assignment names the mediator once -------------------------------------------------------------


def test_the_assignment_note_does_not_repeat_the_role(assigned_case, world):
    case = assigned_case()
    row = case.events.get(action="assign")
    with translation.override("en"):
        text = row.note_text
    assert text == f"Assigned to {world.mediator.display_name} of {world.org.name}."
    assert "mediator" not in text.lower().replace(world.mediator.display_name.lower(), "")
    with translation.override("zh-hans"):
        assert "调解员 调解员" not in row.note_text
        assert row.note_text.count(world.mediator.display_name) == 1


# --- the new-case form: the ID-number error under the ID number -----------------------------------------


def _form_post(client, identifier: str):
    return client.post(
        reverse("disputes:case_new"),
        {
            "token": "r2-id-form",
            "facts": "楼上漏水。",
            "category": "neighbours",
            "division": "",
            "source": "proactive",
            "party0_role": "applicant",
            "party0_kind": "person",
            "party0_name": "张三丰",
            "party0_identifier": identifier,
            "party1_role": "respondent",
            "party1_kind": "person",
            "party1_name": "李四海",
        },
    )


def _cell(html: str, field: str, index: int = 0) -> str:
    """The grid cell (``<div>…</div>``) of a party's field."""
    return re.search(rf'<div><label for="party{index}_{field}">.*?</div>', html, re.S).group(0)


def test_a_wrong_check_digit_shows_under_the_id_number_and_does_not_name_the_right_one(client, world):
    right = APPLICANT_ID[-1]
    wrong = APPLICANT_ID[:-1] + ("0" if right != "0" else "1")
    client.force_login(world.mediator)
    client.cookies["django_language"] = "zh-hans"
    response = _form_post(client, wrong)
    assert response.status_code == 400
    html = response.content.decode()
    identifier = _cell(html, "identifier")
    assert 'data-testid="party0-identifier-error"' in identifier
    assert 'aria-invalid="true" aria-describedby="party0_identifier-error"' in identifier
    for other in ("role", "kind", "name", "phone", "address"):
        assert "field-error" not in _cell(html, other), other
    message = re.search(r'data-testid="party0-identifier-error">(.*?)</p>', identifier).group(1)
    assert right not in message.replace(wrong, "")  # the typed number may be quoted, never the answer
    # the form keeps the typed number for correcting it
    assert f'value="{wrong}"' in identifier
