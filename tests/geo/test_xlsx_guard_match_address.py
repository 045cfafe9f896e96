"""`zhiwang match-address` refuses an Excel input that unzips to far more than it weighs, before
openpyxl reads it (``core.xlsx_guard``)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests.xlsx_bombs import shared_strings_bomb

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_a_shared_strings_bomb_is_refused_with_its_code_and_name(tmp_path):
    path = shared_strings_bomb(tmp_path / "addresses.xlsx", header=("地址",))
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=r"file\.xlsx_too_large_unzipped: Cannot read addresses\.xlsx"):
        call_command(
            "match_address", "--input", str(path), "--output", str(out), "--column", "地址", "--no-progress"
        )
    assert not out.exists()
