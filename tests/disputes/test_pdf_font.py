"""PDFs embed a Chinese TrueType font where the machine has one (zhiwang.core.pdf_fonts).

The agreement (调解协议书) and the analytics report are archived and sent upward: a PDF that
only names STSong-Light shows boxes in a viewer without a Chinese font. ``make test`` installs
Debian's fonts-wqy-microhei where it can; under CI the embedding tests must run.
"""

from __future__ import annotations

import os

import pytest
from django.core.checks import run_checks
from django.utils import translation

from tests.analytics.test_reports_r3 import disputes_in_october, report  # noqa: F401
from zhiwang.analytics import reports
from zhiwang.core import pdf_fonts
from zhiwang.disputes import documents
from zhiwang.disputes.models import DisputeCase
from zhiwang.tickets.notify import city_language


def _system_font() -> str:
    found = next((path for path in pdf_fonts.CANDIDATES if os.path.isfile(path)), None)
    if found is None:
        message = "no Chinese TrueType font on this machine (Debian: apt-get install fonts-wqy-microhei)"
        if os.environ.get("CI"):
            pytest.fail("CI=true but " + message)
        pytest.skip(message)
    return found


def test_the_agreement_embeds_the_machines_chinese_font(world, agreed_case, settings):
    _system_font()
    settings.ZHIWANG_PDF_FONT = ""
    case = DisputeCase.objects.get(pk=agreed_case().pk)
    with translation.override("zh-hans"):
        pdf = documents.agreement_pdf(case, reveal=False)
    assert pdf.startswith(b"%PDF")
    # a font program inside the file (TrueType: FontFile2), subset to the glyphs used
    assert b"/FontFile2" in pdf
    assert b"STSong-Light" not in pdf
    font = pdf_fonts.pdf_font()
    assert font.embedded and font.name.startswith("ZhiwangCJK-")


def test_the_report_embeds_it_too(report, settings):  # noqa: F811
    _system_font()
    settings.ZHIWANG_PDF_FONT = ""
    with city_language():
        pdf = reports.build_pdf(report, reports.report_figures(report))
    assert b"/FontFile2" in pdf and b"STSong-Light" not in pdf


def test_none_names_the_cid_font_and_embeds_nothing(world, agreed_case, settings):
    settings.ZHIWANG_PDF_FONT = "none"
    case = DisputeCase.objects.get(pk=agreed_case().pk)
    with translation.override("zh-hans"):
        pdf = documents.agreement_pdf(case, reveal=False)
    assert b"STSong-Light" in pdf and b"/FontFile2" not in pdf
    assert not [m for m in run_checks() if m.id == "zhiwang.W001"]


@pytest.mark.parametrize("kind", ["missing", "not-a-font", "latin-only"])
def test_an_unusable_configured_font_falls_back_and_is_a_check_warning(
    kind, world, agreed_case, settings, tmp_path
):
    if kind == "missing":
        path = str(tmp_path / "nowhere.ttf")
    elif kind == "not-a-font":
        path = str(tmp_path / "fake.ttf")
        (tmp_path / "fake.ttf").write_bytes(b"\x00\x01\x00\x00" + b"not a font" * 100)
    else:
        path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
        if not os.path.isfile(path):
            pytest.skip("DejaVu Sans is not installed")
    settings.ZHIWANG_PDF_FONT = path
    warnings = [m for m in run_checks() if m.id == "zhiwang.W001"]
    assert len(warnings) == 1 and path in warnings[0].msg
    font = pdf_fonts.pdf_font()
    assert not font.embedded and font.name == pdf_fonts.CID_FONT
    case = DisputeCase.objects.get(pk=agreed_case().pk)
    with translation.override("zh-hans"):
        pdf = documents.agreement_pdf(case, reveal=False)
    # the document is still written, in the font every Chinese viewer maps
    assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf


def test_a_named_collection_member_is_used(world, agreed_case, settings):
    path = _system_font()
    if not path.endswith(".ttc"):
        pytest.skip("the machine's Chinese font is not a collection")
    settings.ZHIWANG_PDF_FONT = f"{path}#0"
    assert not [m for m in run_checks() if m.id == "zhiwang.W001"]
    font = pdf_fonts.pdf_font()
    assert font.embedded and font.path == f"{path}#0"
    case = DisputeCase.objects.get(pk=agreed_case().pk)
    with translation.override("zh-hans"):
        pdf = documents.agreement_pdf(case, reveal=False)
    # the agreement's headings are bold (<b>): they map to the same face instead of failing
    # for want of a bold file
    assert b"/FontFile2" in pdf
