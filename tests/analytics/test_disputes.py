"""Disputes in analytics: the dashboard panel and API (scoped to the viewer), the optional index term."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from tests.disputes.conftest import (  # noqa: F401  (fixtures reused as they are)
    agreed_case,
    assigned_case,
    make_case,
    mediating_case,
    world,
)
from zhiwang.analytics.index import governance_index_compute
from zhiwang.analytics.models import GovernanceIndex, IndexFormula, default_weights
from zhiwang.disputes.selectors import dispute_indicators

from .conftest import HISTORY_END, MONTH_ENDED


@pytest.fixture(autouse=True)
def _cid_pdfs(settings):
    """Reports here name the CID font: ``_pdf_text`` reads its UTF-16 strings (an embedded subset
    font writes glyph codes, tests/disputes/test_pdf_font.py covers it)."""
    settings.ZHIWANG_PDF_FONT = "none"


@pytest.fixture
def cases(world, make_case, agreed_case, mediating_case):  # noqa: F811
    """Nanshan: 2 successes (one red: prevented escalation), 1 failure, 1 open; Luohu: 1 open case."""
    from zhiwang.disputes.services import case_close

    ok = agreed_case(amount="3500")
    case_close(case=ok, actor=world.mediator, outcome="success")
    red = agreed_case(amount="1000", risk="red")
    case_close(case=red, actor=world.mediator, outcome="success")
    failed = mediating_case(amount="500")
    case_close(case=failed, actor=world.mediator, outcome="failed")
    make_case(amount="200")
    make_case(division=world.lh_community, actor=world.admin, amount="99999")
    return world


@pytest.mark.django_db
def test_district_viewer_sees_only_their_districts_dispute_figures(cases, client):
    demo = cases
    client.force_login(demo.ns_dispatcher)
    body = client.get("/api/v1/analytics/disputes").json()
    assert body["place"]["code"] == "440305000000"
    assert body["received"] == 4 and body["closed"] == 3 and body["success"] == 2
    assert body["success_rate"] == round(2 / 3, 4)
    assert body["prevented_escalation"] == 1
    assert Decimal(body["amount_involved"]) == Decimal("5200")  # Luohu's 99,999 is not in it
    assert Decimal(body["amount_resolved"]) == Decimal("4500")
    # the same figures as the disputes app's own selector
    mine = dispute_indicators(user=demo.ns_dispatcher, division="440305000000")
    assert body["open"] == mine["open"] == 1

    # the links open the ledger narrowed to the place and the window
    link = urlparse(body["links"]["closed"])
    assert link.path == reverse("disputes:ledger")
    query = parse_qs(link.query)
    assert query["division"] == ["440305000000"] and query["status"] == ["closed"]
    assert query["received_from"] == [body["start"]] and query["received_to"] == [body["end"]]
    ledger = client.get(body["links"]["closed"])
    assert ledger.status_code == 200

    # Luohu's dispatcher sees their one case, and cannot ask for Nanshan (same answer as unknown)
    client.force_login(demo.lh_dispatcher)
    body = client.get("/api/v1/analytics/disputes").json()
    assert body["received"] == 1 and body["success_rate"] is None
    outside = client.get("/api/v1/analytics/disputes", {"division": "440305000000"})
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "analytics.place_unknown"

    # the city leader sees both districts
    client.force_login(demo.leader)
    body = client.get("/api/v1/analytics/disputes").json()
    assert body["received"] == 5 and Decimal(body["amount_involved"]) == Decimal("105199")
    # a window without cases
    past = client.get("/api/v1/analytics/disputes", {"start": "2020-01-01", "end": "2020-01-31"}).json()
    assert past["received"] == 0 and past["success_rate"] is None


@pytest.mark.django_db
def test_dashboard_panel_links_to_the_ledger(cases, client):
    demo = cases
    client.force_login(demo.ns_dispatcher)
    page = client.get(reverse("analytics:dashboard"))
    assert page.status_code == 200
    panel = page.context["disputes"]
    assert panel["received"] == 4 and panel["success_rate"] == round(2 / 3, 4)
    html = page.content.decode()
    assert 'data-testid="disputes-panel"' in html
    assert reverse("disputes:ledger") + "?division=440305000000" in html
    # a subdistrict of Luohu is out of reach for the Nanshan dispatcher: no figures leak
    assert client.get(reverse("analytics:dashboard"), {"division": demo.lh_sub.code}).status_code == 404


@pytest.mark.django_db
def test_data_steward_gets_no_dispute_figures(client):
    from zhiwang.accounts.services import user_create
    from zhiwang.geo.models import Division

    steward = user_create(
        username="t_steward",
        password="pw",
        role="data_steward",
        full_name="数据 管理员",
        jurisdictions=[Division.objects.get(code="440305000000")],
    )
    client.force_login(steward)
    response = client.get("/api/v1/analytics/disputes")
    assert (
        response.status_code == 403 and response.json()["error"]["code"] == "analytics.disputes_not_allowed"
    )
    page = client.get(reverse("analytics:dashboard"))
    assert page.status_code == 200 and page.context["disputes"] is None


@pytest.mark.django_db
def test_index_dispute_term_is_optional_and_weighs_when_set(cases):
    from zhiwang.disputes.models import DisputeCase

    demo = cases
    month = HISTORY_END.date().replace(day=1)
    DisputeCase.objects.update(received_at=HISTORY_END - timedelta(days=2))
    assert default_weights()["dispute_success_rate"] == 0

    # weight 0 (the default): the term is not computed, so nothing changes
    IndexFormula.objects.create(name="默认")
    governance_index_compute(month=month, now=MONTH_ENDED)
    assert not GovernanceIndex.objects.filter(values__has_key="dispute_success_rate").exists()

    # weighted: Nanshan's subdistrict scores its success rate, its community too; Luohu has no closed case
    formula = IndexFormula.objects.create(
        name="纠纷", weights={"dispute_success_rate": 1}, red_count=1, min_volume=0
    )
    governance_index_compute(month=month, formula=formula, now=MONTH_ENDED)
    sub = GovernanceIndex.objects.get(month=month, division=demo.sub)
    assert sub.values == {"dispute_success_rate": round(2 / 3, 4)}
    assert sub.score == round(100 * 2 / 3, 2) and sub.rank == 1 and sub.standing == "red"
    community = GovernanceIndex.objects.get(month=month, division=demo.community)
    assert community.score == sub.score
    luohu = GovernanceIndex.objects.get(month=month, division=demo.lh_sub)
    assert luohu.score is None and luohu.rank is None  # an open case only: no value, no rank
    # equal to the disputes app's own indicator for that subdistrict and month
    from zhiwang.analytics.index import month_bounds

    start, end = month_bounds(month)
    assert (
        dispute_indicators(user=demo.admin, since=start, until=end, division=demo.sub.code)["success_rate"]
        == sub.values["dispute_success_rate"]
    )


@pytest.mark.django_db
def test_reports_carry_the_disputes_panel_figures(cases, client, settings, tmp_path):
    """The Excel and PDF reports hold the disputes panel's figures, as the requester sees them."""
    from io import BytesIO

    from django.utils import timezone
    from django.utils.translation import gettext as _
    from django.utils.translation import pgettext
    from openpyxl import load_workbook

    from zhiwang.analytics import services
    from zhiwang.analytics.models import Report

    settings.MEDIA_ROOT = tmp_path
    demo = cases
    period = timezone.localdate().strftime("%Y-%m")

    def generate(user, key):
        client.force_login(user)
        response = client.post(
            "/api/v1/analytics/reports",
            {"division": "440305000000", "period": period, "idempotency_key": key},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        report = Report.objects.get(pk=response.json()["id"])
        if report.status != "done":
            services.report_generate(report_id=report.pk)
            report.refresh_from_db()
        assert report.status == "done"
        return report

    report = generate(demo.ns_dispatcher, "disputes-1")
    panel = client.get(
        "/api/v1/analytics/disputes", {"division": "440305000000", "start": report.start, "end": report.end}
    ).json()
    assert panel["received"] == 4 and panel["success"] == 2
    book = load_workbook(BytesIO(report.xlsx.read()))
    sheet = book[_("Disputes")]
    values = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values[_("Cases received")] == panel["received"] == 4
    assert values[pgettext("dispute", "Closed")] == panel["closed"] == 3
    assert values[_("Mediated successfully")] == panel["success"]
    assert values[_("Prevented escalation")] == panel["prevented_escalation"] == 1
    assert values[_("Mediation success rate")] == pytest.approx(panel["success_rate"])
    assert values[_("Amount involved (yuan)")] == pytest.approx(5200.0)  # Luohu's case is not in it
    assert sheet._charts, "the disputes sheet carries a chart"

    text = _pdf_text(report.pdf.read())
    assert _("Disputes") in text
    lines = text.splitlines()
    assert lines[lines.index(_("Cases received")) + 1] == "4"
    assert lines[lines.index(_("Mediation success rate")) + 1] == "66.7%"
    assert lines[lines.index(_("Amount involved (yuan)")) + 1] == "5,200.00"

    # a data steward does not see dispute cases: their report has no disputes section
    from zhiwang.accounts.services import user_create
    from zhiwang.geo.models import Division

    steward = user_create(
        username="t_steward_r",
        password="pw",
        role="data_steward",
        full_name="数据 管理员",
        jurisdictions=[Division.objects.get(code="440305000000")],
    )
    report = generate(steward, "disputes-2")
    assert _("Disputes") not in load_workbook(BytesIO(report.xlsx.read())).sheetnames
    assert _("Cases received") not in _pdf_text(report.pdf.read())


def _pdf_text(pdf: bytes) -> str:
    """The text shown by a reportlab PDF: its content streams (ASCII85 + Flate) decoded, and the
    string operands of ``Tj`` decoded (UTF-16BE in a CID font, Latin-1 in the standard ones)."""
    import base64
    import re
    import zlib

    cid_fonts = set(re.findall(rb"/Name /(F\d+) /Subtype /Type0", pdf))
    out = []
    for match in re.finditer(rb"/Filter \[ /ASCII85Decode /FlateDecode \].*?stream\r?\n(.*?)~>", pdf, re.S):
        data = zlib.decompress(base64.a85decode(match.group(1).strip(), adobe=False))
        font = b""
        for name, literal in re.findall(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", data, re.S):
            if name:
                font = name
                continue
            raw = re.sub(rb"\\([0-7]{1,3}|.)", _pdf_unescape, literal)
            out.append(raw.decode("utf-16-be", "replace") if font in cid_fonts else raw.decode("latin-1"))
    return "\n".join(out)


def _pdf_unescape(match) -> bytes:
    token = match.group(1)
    if token.isdigit():
        return bytes([int(token, 8)])
    return {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(token, token)


@pytest.mark.django_db
def test_a_past_period_s_panel_says_its_figures_stand_at_its_end(cases, client):
    """The dispute figures of an ended period are read at its end (a case closed later counts as
    open there): the panel's names and a line with the last day counted say so; today's period
    keeps "Open now"."""
    from django.utils import timezone

    demo = cases
    client.force_login(demo.ns_dispatcher)
    client.cookies["django_language"] = "en"
    today = timezone.localdate()
    start, end = today - timedelta(days=20), today - timedelta(days=1)
    body = client.get("/api/v1/analytics/disputes", {"start": start, "end": end}).json()
    assert body["as_of"] is not None and body["as_of_day"] is not None
    page = client.get(reverse("analytics:dashboard"), {"start": start, "end": end})
    html = page.content.decode()
    panel = html[html.index('data-testid="disputes-panel"') :]
    assert "Open at the end of the period" in panel and "Closed by the end of the period" in panel
    assert f"as of the end of {body['as_of_day']}" in panel
    current = client.get(reverse("analytics:dashboard")).content.decode()
    panel = current[current.index('data-testid="disputes-panel"') :]
    assert "Open now" in panel and 'data-testid="disputes-as-of"' not in panel
