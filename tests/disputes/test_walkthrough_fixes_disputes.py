"""Defects found by a browser walkthrough and an API probe of the disputes pages and API.

Formula injection in the ledger workbook; the API error's top-level ``field`` not the first problem's;
a mediator's own case counted as a grid worker's finding; an extension to any later date; the judicial
confirmation's last day read as the day after; a title cut silently and a 10-digit "mobile" accepted;
the ledger listing every case under a wrong filter and dropping ``source``; a visitor's name and phone
rewritten on earlier visits by a later one.
"""

from __future__ import annotations

import importlib
import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.disputes.conftest import APPLICANT_ID, parties
from tests.disputes.test_registry_link import REG_ID, _person
from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import DisputeCase, Party, Visit, VisitEvent, Visitor

pytestmark = pytest.mark.django_db

BASE = "/api/v1/disputes"
HOSTILE_NAME = "=cmd|'/C calc'!A0"
HOSTILE_FACTS = "=1+2"


def post_json(client, url, data):
    return client.post(BASE + url, data=json.dumps(data), content_type="application/json")


def _error(response) -> dict:
    return response.json()["error"]


# --- 1. the ledger workbook: typed text stays text ----------------------------------------------


def _case_rows(content: bytes) -> list[list]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    return [list(row) for row in sheet.iter_rows(min_row=4)]


def test_ledger_export_keeps_a_hostile_name_and_facts_as_text_masked_and_full(client, world, make_case):
    case = make_case(
        facts=HOSTILE_FACTS,
        parties=parties(**{"0__name": HOSTILE_NAME, "1__name": '=HYPERLINK("http://x.example")'}),
    )
    client.force_login(world.sub_dispatcher)
    masked = client.get(reverse("disputes:ledger_export"))
    full = client.post(reverse("disputes:ledger_export"), {"reason": "报送司法局"})
    assert masked.status_code == 200 and full.status_code == 200
    for content, applicant in (
        (masked.content, Party.objects.get(case=case, role="applicant").masked_name),
        (full.content, HOSTILE_NAME),
    ):
        (row,) = _case_rows(content)
        assert row[1].value == case.number
        facts, applicant_cell, respondent_cell = row[5], row[6], row[7]
        assert applicant.startswith("=")  # the masked name starts with "=" too
        assert (facts.value, facts.data_type) == (HOSTILE_FACTS, "s")
        assert (applicant_cell.value, applicant_cell.data_type) == (applicant, "s")
        assert respondent_cell.data_type == "s" and respondent_cell.value.startswith("=")
        assert not any(cell.data_type == "f" for cell in row)
    (row,) = _case_rows(full.content)
    assert row[7].value == '=HYPERLINK("http://x.example")'


def test_ledger_workbook_types_every_cell_it_writes(world, make_case):
    from zhiwang.disputes import documents

    make_case(facts=HOSTILE_FACTS)
    content = documents.ledger_workbook(
        DisputeCase.objects.prefetch_related("parties"), reveal=True, title="=SUM(1,2)"
    )
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    assert (sheet["A1"].value, sheet["A1"].data_type) == ("=SUM(1,2)", "s")
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    # numbers stay numbers
    assert sheet.cell(row=4, column=1).value == 1 and sheet.cell(row=4, column=11).data_type == "n"


# --- 2. the API's top-level field is the first problem's -------------------------------------------


def test_case_party_picked_outside_scope_names_the_same_field_at_the_top(client, world):
    person = _person(world.community)  # a Nanshan record: outside the Luohu dispatcher's registry scope
    rows = parties()
    rows[1] = {"role": "respondent", "registry_person_id": person.pk}
    client.force_login(world.lh_dispatcher)
    response = post_json(
        client,
        "/cases",
        {
            "facts": "押金纠纷",
            "category": "neighbours",
            "division": world.lh_community.code,
            "parties": rows,
            "source": "proactive",
            "idempotency_key": "probe-1",
        },
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["fields"][0]["field"] == "parties.1.registry_person_id"
    assert error["field"] == error["fields"][0]["field"]
    assert not DisputeCase.objects.exists()


def test_visit_with_a_visitor_outside_scope_names_the_same_field_at_the_top(client, world):
    person = _person(world.community)
    client.force_login(world.lh_window)
    response = post_json(
        client,
        "/visits",
        {
            "centre": world.lh_centre.pk,
            "area": "peoples_mediation",
            "matter": "押金",
            "visitor_registry_person_id": person.pk,
            "idempotency_key": "probe-v-1",
        },
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["fields"][0]["field"] == "visitor_registry_person_id"
    assert error["field"] == "visitor_registry_person_id"


def test_the_top_level_field_follows_the_first_problem_among_several(client, world):
    person = _person(world.community)
    rows = parties(**{"0__phone": "12"})  # the first problem: a bad phone of party 0
    rows[1] = {"role": "respondent", "registry_person_id": person.pk}
    client.force_login(world.lh_dispatcher)
    response = post_json(
        client,
        "/cases",
        {
            "facts": "f",
            "category": "neighbours",
            "division": world.lh_community.code,
            "parties": rows,
            "source": "proactive",
        },
    )
    error = _error(response)
    assert [f["field"] for f in error["fields"]] == ["parties.0.phone", "parties.1.registry_person_id"]
    assert error["field"] == "parties.0.phone"


# --- 4. the source of a case registered directly -----------------------------------------------


def _source_options(html: str) -> list[tuple[str, bool]]:
    select = re.search(r'<select id="source" name="source">(.*?)</select>', html, re.S).group(1)
    return [(v, bool(sel)) for v, sel in re.findall(r'<option value="([^"]*)"( selected)?', select)]


def _direct_form(world, **extra):
    return {
        "token": extra.pop("token", "direct-1"),
        "facts": "相邻通道被占用，协商未果。",
        "category": "neighbours",
        "division": world.community.code,
        "party0_role": "applicant",
        "party0_name": "张三丰",
        "party1_role": "respondent",
        "party1_name": "李四海",
        **extra,
    }


def test_a_mediators_own_case_defaults_to_proactive_not_to_a_grid_workers_finding(client, world):
    client.force_login(world.mediator)
    options = _source_options(client.get(reverse("disputes:case_new")).content.decode())
    # Nothing chosen yet: the role's default is marked as chosen (the first option).
    assert options[0] == ("proactive", True) and sum(selected for _value, selected in options) == 1
    assert [value for value, _selected in options] == [
        "proactive",
        "application",
        "grid",
        "petition",
        "court",
        "police",
    ]
    response = client.post(reverse("disputes:case_new"), _direct_form(world, source="proactive"))
    assert response.status_code == 302
    case = DisputeCase.objects.get()
    assert case.source == "proactive" and case.organisation == world.org
    # a referral chosen is kept; an old form without the field is proactive too
    client.post(reverse("disputes:case_new"), _direct_form(world, token="direct-2", source="petition"))
    client.post(reverse("disputes:case_new"), _direct_form(world, token="direct-3", facts="另一起"))
    assert sorted(DisputeCase.objects.values_list("source", flat=True)) == [
        "petition",
        "proactive",
        "proactive",
    ]


def test_the_chosen_source_stays_chosen_when_the_form_comes_back(client, world):
    client.force_login(world.mediator)
    response = client.post(reverse("disputes:case_new"), _direct_form(world, source="court", category=""))
    assert response.status_code == 400
    assert ("court", True) in _source_options(response.content.decode())


# --- 5. the extension is capped -----------------------------------------------------------------


def test_extension_is_capped_at_thirty_days_past_the_one_month_target(world, assigned_case):
    from zhiwang.disputes.services import EXTENSION_MAX_DAYS, case_extend, extension_last_day

    case = assigned_case()
    target = timezone.localdate(case.target_at)
    assert EXTENSION_MAX_DAYS == 30 and extension_last_day(case) == target + timedelta(days=30)
    for until in ("2030-01-01", (target + timedelta(days=31)).isoformat()):
        with pytest.raises(ServiceError) as caught:
            case_extend(case=case, actor=world.mediator, until=until, reason="双方同意延长")
        assert caught.value.code == "disputes.extension_too_long" and caught.value.field == "until"
        assert (target + timedelta(days=30)).isoformat() in caught.value.message
    case.refresh_from_db()
    assert timezone.localdate(case.target_at) == target and not case.extended
    # within the limit: extended, and again, but never past the first target + 30 days
    case = case_extend(
        case=case, actor=world.mediator, until=(target + timedelta(days=10)).isoformat(), reason="同意"
    )
    case = case_extend(
        case=case, actor=world.mediator, until=(target + timedelta(days=30)).isoformat(), reason="同意"
    )
    assert timezone.localdate(case.target_at) == target + timedelta(days=30)
    case.refresh_from_db()
    with pytest.raises(ServiceError) as caught:
        case_extend(
            case=case, actor=world.mediator, until=(target + timedelta(days=31)).isoformat(), reason="同意"
        )
    assert caught.value.code == "disputes.extension_too_long"
    assert case.events.filter(action="extend").count() == 2


def test_case_page_refuses_a_far_extension_with_the_message(client, world, assigned_case):
    case = assigned_case()
    client.force_login(world.mediator)
    page = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    last_day = (timezone.localdate(case.target_at) + timedelta(days=30)).isoformat()
    assert f'name="until" type="date" max="{last_day}"' in page
    response = client.post(
        reverse("disputes:case_action", args=[case.number, "extend"]),
        {"version": case.version, "until": "2030-01-01", "reason": "双方同意延长"},
    )
    assert response.status_code == 400
    assert response.context["errors"]["until"] and last_day in response.content.decode()
    case.refresh_from_db()
    assert not case.extended


# --- 6. the judicial confirmation's last day -----------------------------------------------------


def test_agreement_page_says_the_last_day_to_apply_is_included(client, world, agreed_case):
    from zhiwang.disputes.services import confirmation_deadline

    case = agreed_case()
    last_day = confirmation_deadline(case.agreement).isoformat()
    client.force_login(world.mediator)
    client.cookies["django_language"] = "en"
    english = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert f"may be applied for on {last_day} at the latest" in english
    assert "until" not in re.search(r'data-testid="confirmation-last-day">(.*?)</span>', english).group(1)
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    shown = re.search(r'data-testid="confirmation-last-day">(.*?)</span>', chinese).group(1)
    assert last_day in shown and "前申请" not in shown  # "可在 … 前申请" read as "before that day"


# --- 7. no silent cuts; a mobile number has 11 digits --------------------------------------------


def test_a_title_longer_than_200_characters_is_refused_not_cut(world, make_case):
    with pytest.raises(ServiceError) as caught:
        make_case(title="纠" * 201)
    fields = {(f.field, f.code) for f in caught.value.fields}
    assert ("title", "disputes.too_long") in fields
    assert not DisputeCase.objects.exists()
    assert make_case(title="纠" * 200).title == "纠" * 200


def test_case_form_limits_the_title_and_reports_a_longer_one(client, world):
    client.force_login(world.sub_dispatcher)
    form = client.get(reverse("disputes:case_new")).content.decode()
    assert 'id="title" name="title" maxlength="200"' in form
    assert 'name="party0_name" maxlength="128"' in form
    response = client.post(reverse("disputes:case_new"), _direct_form(world, title="长" * 300))
    assert response.status_code == 400 and "title" in response.context["errors"]
    assert not DisputeCase.objects.exists()


def test_a_party_name_too_long_is_refused_not_cut(world, make_case):
    with pytest.raises(ServiceError) as caught:
        make_case(parties=parties(**{"1__name": "李" * 129}))
    assert {(f.field, f.code) for f in caught.value.fields} == {("parties.1.name", "disputes.too_long")}


@pytest.mark.parametrize("phone", ["1381234567", "138123456789", "+86 138 1234 567"])
def test_a_mobile_number_needs_its_eleven_digits(world, make_case, phone):
    with pytest.raises(ServiceError) as caught:
        make_case(parties=parties(**{"0__phone": phone}))
    assert {(f.field, f.code) for f in caught.value.fields} == {("parties.0.phone", "disputes.phone_invalid")}


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0755-26660001", "075526660001"),  # a landline: the tickets' rule
        ("26660001", "26660001"),
        ("4008123123", "4008123123"),
    ],
)
def test_mobile_and_landline_numbers_are_accepted(world, make_case, phone, stored):
    case = make_case(parties=parties(**{"0__phone": phone}))
    assert case.parties.get(role="applicant").phone == stored


def test_a_visitors_ten_digit_mobile_is_refused(world):
    from zhiwang.disputes.services import visit_register

    with pytest.raises(ServiceError) as caught:
        visit_register(
            actor=world.window,
            centre=world.centre,
            area_code="peoples_mediation",
            matter="邻里纠纷",
            visitor_name="张三丰",
            visitor_phone="1381234567",
            idempotency_key="phone-1",
        )
    assert caught.value.fields[0].field == "visitor_phone"
    assert not Visit.objects.exists()


# --- 8. the ledger under a wrong filter, and its source filter ------------------------------------


@pytest.mark.parametrize(("name", "value"), [("source", "nowhere"), ("risk", "purple"), ("division", "999")])
def test_ledger_lists_nothing_until_a_wrong_filter_is_corrected(client, world, make_case, name, value):
    case = make_case()
    client.force_login(world.sub_dispatcher)
    response = client.get(reverse("disputes:ledger"), {name: value})
    assert response.status_code == 400 and name in response.context["errors"]
    assert response.context["page"].paginator.count == 0
    assert case.number not in response.content.decode()
    assert case.number in client.get(reverse("disputes:ledger")).content.decode()


def test_ledger_form_keeps_the_source_and_a_links_other_filters(client, world, make_case):
    petition = make_case(source="petition", title="信访移交的纠纷")
    grid = make_case(source="grid", title="网格发现的纠纷")
    client.force_login(world.sub_dispatcher)
    response = client.get(reverse("disputes:ledger"), {"source": "petition", "q": "纠纷", "near": ""})
    html = response.content.decode()
    assert petition.number in html and grid.number not in html
    select = re.search(r'<select id="f-source" name="source">(.*?)</select>', html, re.S).group(1)
    assert '<option value="petition" selected>' in select
    assert '<input type="hidden" name="q" value="纠纷">' in html
    assert 'name="near"' not in html.split('<form method="get"')[1].split("</form>")[0]


# --- 9. each visit keeps the visitor's name and phone as given then -------------------------------


def _visit(world, actor=None, centre=None, key="v1", **kw):
    from zhiwang.disputes.services import visit_register

    data = {
        "actor": actor or world.window,
        "centre": centre or world.centre,
        "area_code": "peoples_mediation",
        "matter": "与邻居噪音纠纷",
        "visitor_name": "张三丰",
        "visitor_id_number": APPLICANT_ID,
        "visitor_phone": "13800138001",
        "idempotency_key": key,
    }
    data.update(kw)
    return visit_register(**data).visit


def test_another_centres_visit_changes_neither_the_earlier_visit_nor_the_name(client, world):
    first = _visit(world)
    second = _visit(
        world,
        actor=world.lh_window,
        centre=world.lh_centre,
        key="v2",
        visitor_name="张三",
        visitor_phone="13900139009",
    )
    assert first.visitor_id == second.visitor_id
    visitor = Visitor.objects.get()
    assert visitor.name == "张三丰"  # typed elsewhere: not a registry pick, the name is kept
    assert visitor.phone == ""  # contact details stay with the centre they were given to
    first.refresh_from_db()
    assert (first.visitor_name, first.visitor_phone) == ("张三丰", "13800138001")
    assert (second.visitor_name, second.visitor_phone) == ("张三", "13900139009")
    # the first visit at this centre: nothing on record here to change (never the other centre's phone)
    event = VisitEvent.objects.get(visit=second, action="register")
    assert "visitor_changed" not in event.payload
    assert "visitor_changed" not in VisitEvent.objects.get(visit=first, action="register").payload
    # the first centre's queue and the API show the first visit as it was registered
    client.force_login(world.window)
    queues = client.get(f"{BASE}/centres/{world.centre.pk}/queues").json()
    (shown,) = [v for q in queues for v in q["visits"] if v["number"] == first.number]
    assert shown["visitor_phone"] == "138****8001" and shown["visitor_name"] == "张**"


def test_a_case_opened_from_the_earlier_visit_copies_that_visits_name_and_phone(client, world):
    first = _visit(world)
    _visit(
        world,
        actor=world.lh_window,
        centre=world.lh_centre,
        key="v2",
        visitor_name="张三",
        visitor_phone="13900139009",
    )
    client.force_login(world.window)
    url = reverse("disputes:case_new") + f"?visit={first.number}"
    response = client.post(
        url,
        {
            "token": "from-visit",
            "facts": "与邻居噪音纠纷",
            "category": "neighbours",
            "party0_visitor": "1",
            "party0_role": "applicant",
            "party1_role": "respondent",
            "party1_name": "李四海",
        },
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    applicant = Party.objects.get(role="applicant")
    assert (applicant.name, applicant.phone, applicant.identifier) == ("张三丰", "13800138001", APPLICANT_ID)


def test_a_registry_pick_renames_the_visitor_and_says_so(world):
    person = _person(world.community)
    first = _visit(world, visitor_name="欧阳", visitor_id_number=REG_ID, visitor_phone="")
    second = _visit(
        world, key="v2", visitor_name="", visitor_id_number="", visitor_phone="", visitor_person=person.pk
    )
    assert first.visitor_id == second.visitor_id
    visitor = Visitor.objects.get()
    assert visitor.name == person.name and second.visitor_name == person.name
    first.refresh_from_db()
    assert first.visitor_name == "欧阳"
    changed = VisitEvent.objects.get(visit=second, action="register").payload["visitor_changed"]
    assert changed["name"] == {"from": "欧*", "to": "欧***"}
    assert changed["phone"]["to"] == "137****5678"


def test_a_returning_visitor_without_a_phone_keeps_the_one_on_record_on_the_visit(world):
    _visit(world)
    again = _visit(world, key="v2", visitor_phone="")
    assert again.visitor_phone == "13800138001"
    assert "visitor_changed" not in VisitEvent.objects.get(visit=again, action="register").payload


def test_the_migration_fills_the_snapshot_of_existing_visits_from_their_visitor(world):
    from django.apps import apps

    visit = _visit(world)
    Visit.objects.filter(pk=visit.pk).update(visitor_name="", visitor_phone="")
    Visitor.objects.update(name="张三丰", phone="13700137000")
    migration = importlib.import_module("zhiwang.disputes.migrations.0006_visit_visitor_snapshot")
    migration.backfill_snapshots(apps, None)
    visit.refresh_from_db()
    assert (visit.visitor_name, visit.visitor_phone) == ("张三丰", "13700137000")
