"""Third browser walkthrough, disputes: each role sees only the pages it can use (and the pages refuse
the others), the ledger's figures count the list below them, a past period's figures are as of its
end, the agreement reads as a Chinese document and its amount is the amount resolved, the case form
from a visit starts filled in with two party blocks, and calling a visitor says who was called.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from zhiwang.disputes import documents
from zhiwang.disputes.models import Agreement, DisputeCase
from zhiwang.disputes.selectors import case_list, dispute_indicators
from zhiwang.disputes.services import agreement_reach, case_close, visit_register

pytestmark = pytest.mark.django_db

TZ = timezone.get_fixed_timezone(8 * 60)


def _get(client, user, url, language="zh-hans", **params):
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get(url, params)


def _tabs(html: str) -> dict[str, bool]:
    """{href: is current} of the disputes sub-navigation."""
    nav = re.search(r'<nav[^>]*data-testid="dispute-tabs"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "no disputes sub-navigation"
    return {
        href: "aria-current" in attrs
        for href, attrs in re.findall(r'<a href="([^"]+)"([^>]*)>', nav.group(1))
    }


URLS = {
    "home": reverse("disputes:home"),
    "window": reverse("disputes:window"),
    "workbench": reverse("disputes:workbench"),
    "ledger": reverse("disputes:ledger"),
    "organisations": reverse("disputes:organisations"),
    "case_new": reverse("disputes:case_new"),
}

#: The tabs (and pages) each role can use; every other one is hidden and refused.
USABLE = {
    "leader": {"home", "window", "ledger", "organisations"},
    "hotline": {"home", "ledger", "organisations", "case_new"},
    "window": {"home", "window", "ledger", "organisations", "case_new"},
    "mediator": {"home", "window", "workbench", "ledger", "organisations", "case_new"},
    "sub_dispatcher": {"home", "window", "ledger", "organisations", "case_new"},
    "admin": set(URLS),
}


def _persona(world, hotline, name):
    return hotline if name == "hotline" else getattr(world, name)


# --- 1. the sub-navigation and the pages it leads to -------------------------------------------------


@pytest.mark.parametrize("role", sorted(USABLE))
def test_each_role_sees_only_its_tabs_and_every_other_page_refuses(client, world, hotline, role):
    user = _persona(world, hotline, role)
    usable = USABLE[role]
    expected_tabs = [URLS[name] for name in URLS if name in usable]
    for name, url in URLS.items():
        response = _get(client, user, url)
        html = response.content.decode()
        if name in usable:
            assert response.status_code == 200, (role, name)
            tabs = _tabs(html)
            assert list(tabs) == expected_tabs, (role, name)
            assert [href for href, current in tabs.items() if current] == [url], (role, name)
        else:
            assert response.status_code == 403, (role, name)
            assert 'data-testid="forbidden"' in html
            assert 'name="party0_name"' not in html and "visit-form" not in html  # no form leaks


def test_the_case_form_is_refused_before_it_is_filled_in(client, world, make_case):
    page = _get(client, world.leader, URLS["case_new"])
    assert page.status_code == 403
    html = page.content.decode()
    assert "您无权登记纠纷案件。" in html and 'data-testid="case-form"' not in html
    # sent anyway: refused the same way, nothing registered
    before = DisputeCase.objects.count()
    sent = client.post(
        URLS["case_new"], {"facts": "x", "category": "neighbours", "division": world.community.code}
    )
    assert sent.status_code == 403 and "您无权登记纠纷案件。" in sent.content.decode()
    assert DisputeCase.objects.count() == before
    # the hub no longer offers it either
    hub = _get(client, world.leader, URLS["home"]).content.decode()
    assert URLS["case_new"] not in hub


def test_the_hotline_gets_no_window_tab_and_the_window_refuses_it(client, hotline, world):
    hub = _get(client, hotline, URLS["home"]).content.decode()
    assert URLS["window"] not in _tabs(hub)
    page = _get(client, hotline, URLS["window"])
    assert page.status_code == 403 and "您不属于任何综治中心。" in page.content.decode()


def test_english_tabs_and_refusal(client, world):
    page = _get(client, world.leader, URLS["case_new"], language="en").content.decode()
    assert "You may not register dispute cases." in page
    tabs = _get(client, world.leader, URLS["ledger"], language="en").content.decode()
    assert re.search(r'aria-current="page"[^>]*>Ledger</a>', tabs)


# --- 2. the ledger: the figures count the list; dates are visible; figures as the dashboard writes them


def _month(year, month, day=1, hour=9):
    return datetime(year, month, day, hour, 0, tzinfo=TZ)


@pytest.fixture
def october(world, make_case, agreed_case, mediating_case):
    """Three Nanshan cases received in October 2025: one closed successfully in October, one closed
    successfully in November (after the month ended), one still open; one November case."""
    in_oct = agreed_case(signed_on="2025-10-10", amount="460000")
    case_close(case=in_oct, actor=world.mediator, outcome="success")
    in_nov = agreed_case(signed_on="2025-10-20", amount="3500")
    case_close(case=in_nov, actor=world.mediator, outcome="success")
    still_open = mediating_case(received_at=_month(2025, 10, 25), amount="200")
    november = make_case(received_at=_month(2025, 11, 3), amount="999")
    DisputeCase.objects.filter(pk=in_oct.pk).update(closed_at=_month(2025, 10, 28, 15))
    DisputeCase.objects.filter(pk=in_nov.pk).update(closed_at=_month(2025, 11, 5, 15))
    return {"in_oct": in_oct, "in_nov": in_nov, "open": still_open, "november": november}


def test_the_ledger_tiles_count_the_list_with_its_dates(client, world, october):
    page = _get(
        client, world.sub_dispatcher, URLS["ledger"], received_from="2025-10-01", received_to="2025-11-01"
    )
    html = page.content.decode()
    listed = int(re.search(r"<h2>案件 <small class=\"hint\">(\d+)</small>", html).group(1))
    assert listed == 3
    assert re.search(r'data-testid="tile-received">3<', html)
    assert re.search(r'data-testid="tile-closed">1<', html)  # closed by 31 October, not 2
    assert re.search(r'data-testid="tile-open">2<', html)  # November's closure was still open then
    assert re.search(r'data-testid="tile-success-rate">100.0%<', html)  # no space, one decimal
    assert re.search(r'data-testid="tile-amount-involved">463,700.00<', html)
    assert re.search(r'data-testid="tile-amount-resolved">460,000.00<', html)
    assert 'data-testid="as-of-note"' in html and "2025-10-31" in html
    # the dates are fields of the form (not hidden inputs), with the values set
    assert re.search(r'<input id="f-received-from" name="received_from" type="date" value="2025-10-01"', html)
    assert re.search(r'<input id="f-received-to" name="received_to" type="date" value="2025-11-01"', html)
    assert 'type="hidden" name="received_from"' not in html
    # a line says what the list is narrowed by, with a link that clears it
    summary = re.search(r'data-testid="filter-summary">(.*?)</p>', html, re.S).group(1)
    assert "筛选条件：" in summary and "2025-10-01" in summary and "2025-11-01" in summary
    assert f'href="{URLS["ledger"]}" data-testid="clear-filters"' in summary
    assert "清除筛选" in summary


def test_the_tiles_follow_every_filter(client, world, october):
    html = _get(
        client,
        world.sub_dispatcher,
        URLS["ledger"],
        received_from="2025-10-01",
        received_to="2025-11-01",
        status="closed",
    ).content.decode()
    # "closed" in a past month: closed by its end, the list and the tiles alike
    assert re.search(r"<h2>案件 <small class=\"hint\">1</small>", html)
    assert re.search(r'data-testid="tile-received">1<', html)
    assert october["in_oct"].number in html and october["in_nov"].number not in html


def test_the_ledger_without_dates_reads_today(client, world, october):
    html = _get(client, world.sub_dispatcher, URLS["ledger"]).content.decode()
    assert re.search(r'data-testid="tile-received">4<', html)
    assert re.search(r'data-testid="tile-closed">2<', html)
    assert 'data-testid="as-of-note"' not in html and 'data-testid="filter-summary"' not in html


# --- 3. the figures of a past period are as of its end, and never change -------------------------


def test_a_past_months_figures_are_as_of_its_end(world, october):
    start, end = _month(2025, 10, 1, 0), _month(2025, 11, 1, 0)
    figures = dispute_indicators(user=world.sub_dispatcher, since=start, until=end)
    assert figures["received"] == 3 and figures["closed"] == 1 and figures["open"] == 2
    assert figures["success"] == 1 and figures["success_rate"] == 1.0
    assert figures["amount_resolved"] == Decimal("460000")
    assert figures["as_of"] == end
    # made again later (the open case closes meanwhile): the same figures
    case_close(case=october["open"], actor=world.mediator, outcome="failed")
    assert dispute_indicators(user=world.sub_dispatcher, since=start, until=end) == figures
    # November, still "running" as seen from 20 November: today's statuses
    running = dispute_indicators(
        user=world.sub_dispatcher, since=end, until=_month(2025, 12, 1, 0), now=_month(2025, 11, 20)
    )
    assert running["as_of"] is None and running["open"] == 1


def test_an_open_ended_period_is_today(world, october):
    figures = dispute_indicators(user=world.sub_dispatcher, since=_month(2025, 10, 1, 0))
    assert figures["as_of"] is None
    assert figures["closed"] == 2 and figures["open"] == 2  # October's open case and November's


def test_the_list_behind_open_at_the_end_is_the_cases_open_then(world, october):
    end = _month(2025, 11, 1, 0)
    filters = {"received_from": _month(2025, 10, 1, 0), "received_to": end, "status": "open"}
    listed = set(case_list(user=world.sub_dispatcher, filters=filters).values_list("number", flat=True))
    assert listed == {october["in_nov"].number, october["open"].number}


def test_the_index_term_uses_the_same_definition(world, october):
    from zhiwang.analytics.index import dispute_success_rate

    values = dispute_success_rate(
        user=world.admin, start=_month(2025, 10, 1, 0), end=_month(2025, 11, 1, 0), by="subdistrict"
    )
    assert values[world.sub.pk].value == 1.0  # 1 of 1 closed by 31 October; not 2 of 2


# --- 4. the agreement: a Chinese document, one role word, its amount resolved ----------------------


def test_the_agreement_reads_in_chinese_punctuation_without_a_doubled_role(world, agreed_case):
    case = agreed_case()
    case = DisputeCase.objects.get(pk=case.pk)
    with translation.override("zh-hans"):
        sections = documents.agreement_sections(case, reveal=False)
        lines = documents._signature_lines(case)
        docx = documents.agreement_docx(case, reveal=False)
    applicant = dict(sections)["申请人"]
    assert "：" in applicant and "，" in applicant and ": " not in applicant and ", " not in applicant
    assert "联系电话：" in applicant
    assert lines[1] == "调解员（签名）：" + world.mediator.display_name.split()[-1]
    assert "调解员 " not in lines[1]
    from docx import Document

    text = "\n".join(p.text for p in Document(BytesIO(docx)).paragraphs)
    assert "申请人：" in text and "调解员（签名）：调解员" not in text
    with translation.override("en"):
        english = documents._signature_lines(case)
    assert english[1].startswith("Mediator (signature): ") and "调解员 " not in english[1]


def test_the_pdf_builds_with_the_new_lines(world, agreed_case):
    case = DisputeCase.objects.get(pk=agreed_case().pk)
    with translation.override("zh-hans"):
        assert documents.agreement_pdf(case, reveal=False).startswith(b"%PDF")


def test_the_agreements_amount_is_the_amount_resolved(client, world, mediating_case):
    case = mediating_case(amount="0")
    client.force_login(world.mediator)
    client.cookies["django_language"] = "zh-hans"
    detail = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert 'name="amount"' in detail  # the agreement form asks for it
    response = client.post(
        reverse("disputes:case_action", args=[case.number, "agreement"]),
        {
            "version": case.version,
            "form": "written",
            "terms": "被申请人于十日内支付申请人800元。",
            "performance_manner": "现金",
            "performance_deadline": "2099-12-31",
            "amount": "800",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert Agreement.objects.get(case=case).amount == Decimal("800.00")
    case.refresh_from_db()
    case_close(case=case, actor=world.mediator, outcome="success")
    figures = dispute_indicators(user=world.sub_dispatcher)
    # the case registered without an amount now involves what its agreement settles
    assert figures["amount_resolved"] == Decimal("800.00") and figures["amount_involved"] == Decimal("800.00")
    shown = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert re.search(r'data-testid="agreement-amount">800.00<', shown)


def test_an_agreement_without_an_amount_takes_the_amount_involved(world, mediating_case):
    case = mediating_case(amount="3500")
    agreement = agreement_reach(
        case=case,
        actor=world.mediator,
        form="oral",
        terms="各自承担",
        performance_manner="即时",
        performance_deadline="2099-01-01",
    )
    assert agreement.amount == Decimal("3500.00")


def test_a_wrong_agreement_amount_is_a_field_error(world, mediating_case):
    from zhiwang.core.errors import ServiceError

    case = mediating_case()
    with pytest.raises(ServiceError) as caught:
        agreement_reach(
            case=case,
            actor=world.mediator,
            form="oral",
            terms="各自承担",
            performance_manner="即时",
            performance_deadline="2099-01-01",
            amount="八百",
        )
    assert "amount" in {f.field for f in caught.value.fields}


# --- 5. the case form from a visit -----------------------------------------------------------------


@pytest.fixture
def visit(world):
    from tests.disputes.conftest import APPLICANT_ID

    return visit_register(
        actor=world.window,
        centre=world.centre,
        area_code="peoples_mediation",
        matter="邻居装修噪音扰民",
        visitor_name="赵小明",
        visitor_id_number=APPLICANT_ID,
        visitor_phone="13800138001",
        idempotency_key="r3-visit",
    ).visit


def test_the_visitor_fills_the_first_block_and_two_blocks_show(client, world, visit):
    html = _get(client, world.window, URLS["case_new"], visit=visit.number).content.decode()
    blocks = re.findall(r'<fieldset[^>]*data-testid="party-(\d)"', html)
    assert blocks == ["0", "1"]
    assert 'data-testid="add-party"' in html
    name = re.search(r'<input id="party0_name"[^>]*>', html).group(0)
    assert f'value="{visit.masked_visitor_name}"' in name and "readonly" in name
    identifier = re.search(r'<input id="party0_identifier"[^>]*>', html).group(0)
    assert f'value="{visit.visitor.masked_id_number}"' in identifier and "readonly" in identifier
    phone = re.search(r'<input id="party0_phone"[^>]*>', html).group(0)
    assert f'value="{visit.masked_visitor_phone}"' in phone and "readonly" in phone
    assert "赵小明" not in html and "13800138001" not in html  # never in plain


def test_add_a_party_shows_one_more_block_and_registers_nothing(client, world, visit):
    client.force_login(world.window)
    before = DisputeCase.objects.count()
    form = {"token": "t-add", "party_count": "2", "party0_visitor": "1", "facts": "噪音", "add_party": "1"}
    html = client.post(f"{URLS['case_new']}?visit={visit.number}", form).content.decode()
    assert re.findall(r'<fieldset[^>]*data-testid="party-(\d)"', html) == ["0", "1", "2"]
    assert 'value="t-add"' in html and DisputeCase.objects.count() == before


def test_registered_from_the_visit_the_party_is_the_visitor_in_plain(client, world, visit):
    client.force_login(world.window)
    form = {
        "token": "t-visit",
        "party_count": "2",
        "party0_visitor": "1",
        "party0_role": "applicant",
        "party0_name": visit.masked_visitor_name,  # what the read-only field sent back
        "party0_identifier": visit.visitor.masked_id_number,
        "party0_phone": visit.masked_visitor_phone,
        "party1_role": "respondent",
        "party1_name": "钱多多",
        "facts": "邻居装修噪音扰民",
        "category": "neighbours",
    }
    response = client.post(f"{URLS['case_new']}?visit={visit.number}", form)
    assert response.status_code == 302, response.content.decode()[:800]
    party = DisputeCase.objects.get(visit=visit).parties.get(role="applicant")
    assert party.name == "赵小明" and party.phone == "13800138001"


def _visit_form(visit, token: str, **extra) -> dict:
    """The case form as the page fills it from a visit: the visitor's masked values in block 0."""
    return {
        "token": token,
        "party0_role": "applicant",
        "party0_name": visit.masked_visitor_name,
        "party0_identifier": visit.visitor.masked_id_number,
        "party0_phone": visit.masked_visitor_phone,
        "party1_role": "respondent",
        "party1_name": "钱多多",
        "facts": "邻居装修噪音扰民",
        "category": "neighbours",
        **extra,
    }


def test_unticked_the_masked_values_are_nobodys(client, world, visit):
    client.force_login(world.window)
    response = client.post(f"{URLS['case_new']}?visit={visit.number}", _visit_form(visit, "t-unticked"))
    assert response.status_code == 400  # no applicant: the masked values did not register "赵*"
    assert not DisputeCase.objects.filter(visit=visit).exists()


# --- 6. the window ---------------------------------------------------------------------------------


def test_calling_a_visitor_says_who_was_called(client, world, visit):
    client.force_login(world.window)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("disputes:visit_action", args=[visit.number]), {"action": "call"}, follow=True
    )
    html = response.content.decode()
    assert f"Called {visit.number} ({visit.masked_visitor_name}) to the desk of {visit.area.name}." in html


def test_a_button_keeps_its_label_on_one_line():
    from pathlib import Path

    import zhiwang.disputes

    css = (Path(zhiwang.disputes.__file__).parent / "static/disputes/disputes.css").read_text()
    assert re.search(r"\.dz-inline button \{[^}]*white-space:nowrap", css)
    assert re.search(r'\.tabs a\[aria-current="page"\]', css)


def test_received_dates_in_the_future_count_as_running(world, october):
    later = timezone.now() + timedelta(days=30)
    figures = dispute_indicators(user=world.sub_dispatcher, since=_month(2025, 10, 1, 0), until=later)
    assert figures["as_of"] is None and figures["closed"] == 2


def test_a_registry_pick_sent_with_the_visitor_box_is_ignored(client, world, visit):
    """Review: with "the visitor" ticked, a pick of another registry person in block 0 (the pick
    box stays on the block, or a hand-made field) registered that person's name and ID number
    beside the visitor's phone. The visitor's own values win; the pick is dropped."""
    from tests.disputes.test_registry_link import REG_ID, _person

    other = _person(world.community)
    client.force_login(world.window)
    form = _visit_form(visit, "t-pick", party_count="2", party0_visitor="1", party0_person=str(other.pk))
    response = client.post(f"{URLS['case_new']}?visit={visit.number}", form)
    assert response.status_code == 302, response.content.decode()[:800]
    party = DisputeCase.objects.get(visit=visit).parties.get(role="applicant")
    assert (party.name, party.phone) == ("赵小明", "13800138001")
    assert party.identifier == visit.visitor.id_number != REG_ID
    assert party.person_id != other.pk
