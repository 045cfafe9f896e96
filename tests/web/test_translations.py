"""Every catalog is complete (zh-hans first) and its compiled .mo matches the .po."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "zhiwang"
CATALOGS = sorted(ROOT.glob("**/locale/zh_Hans/LC_MESSAGES/django.po"))


def _unquote(lines: list[str]) -> str:
    return "".join(re.match(r'^(?:msg\w+(?:\[\d\])? )?"(.*)"$', line).group(1) for line in lines)


def entries(path: Path):
    """(msgid, msgstr, fuzzy) for each live entry (no header, no obsolete #~ entries)."""
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.strip().splitlines() if line and not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        body = [line for line in lines if not line.startswith("#")]
        keys = [i for i, line in enumerate(body) if line.startswith(("msgctxt", "msgid", "msgstr"))]
        parts = {}
        for n, start in enumerate(keys):
            end = keys[n + 1] if n + 1 < len(keys) else len(body)
            parts[body[start].split(" ", 1)[0]] = _unquote(body[start:end])
        msgid = parts.get("msgid", "")
        if msgid == "":
            continue  # the header
        msgstr = parts.get("msgstr", parts.get("msgstr[0]", ""))
        yield parts.get("msgctxt"), msgid, msgstr, fuzzy


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_catalog_is_complete_and_compiled(po):
    missing = [msgid for _ctx, msgid, msgstr, fuzzy in entries(po) if not msgstr or fuzzy]
    assert not missing, f"{len(missing)} untranslated or fuzzy in {po}: {missing[:5]}"
    with po.with_suffix(".mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [
        msgid
        for ctx, msgid, msgstr, _fuzzy in entries(po)
        if ctx is None and "\\" not in msgid and compiled.gettext(msgid) == msgid != msgstr
    ]
    assert not stale, f"{po.with_suffix('.mo')} is older than its .po (run `make messages`): {stale[:5]}"
