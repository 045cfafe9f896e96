"""`zhiwang match-address` refuses an Excel input that unzips to far more than it weighs, before
openpyxl reads it (``core.xlsx_guard``)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests.core.xlsx_child_files import SMALL_LIMIT_MB, long_workbook, merged_ranges_bomb
from tests.xlsx_bombs import shared_strings_bomb
from zhiwang.geo.addressing.batch import match_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_a_shared_strings_bomb_is_refused_with_its_code_and_name(tmp_path):
    path = shared_strings_bomb(tmp_path / "addresses.xlsx", header=("地址",))
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=r"file\.xlsx_too_large_unzipped: Cannot read addresses\.xlsx"):
        call_command(
            "match_address", "--input", str(path), "--output", str(out), "--column", "地址", "--no-progress"
        )
    assert not out.exists()


def test_a_merged_ranges_bomb_is_refused_in_the_child_with_its_code_and_name(tmp_path, settings):
    # under every limit of the guard: only the child's memory limit refuses it (core.xlsx_child)
    settings.ZHIWANG_XLSX_CHILD_MEMORY_MB = SMALL_LIMIT_MB
    path = merged_ranges_bomb(tmp_path / "addresses.xlsx", header=("地址",))
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=r"file\.xlsx_too_complex: Cannot read addresses\.xlsx"):
        call_command(
            "match_address", "--input", str(path), "--output", str(out), "--column", "地址", "--no-progress"
        )
    assert not out.exists() and not (tmp_path / "out.csv.part").exists()


def test_the_progress_total_of_a_workbook_comes_from_its_stated_size(tmp_path):
    path = long_workbook(tmp_path / "addresses.xlsx", 30, columns=2, write_only=False)
    seen = []
    report = match_file(
        input_path=path,
        output_path=tmp_path / "out.csv",
        column="列1",
        chunk_size=10,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.rows == 30 and report.encoding == "xlsx"
    assert seen == [(10, 30), (20, 30), (30, 30), (30, 30)]
