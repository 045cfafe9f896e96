"""Sentences joined as the language writes them: a space after Latin punctuation, none after a
full-width stop ("。", "：" …), where a space reads as a stray gap in Chinese."""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Sentence-ending and clause-ending marks after which Chinese text takes no space.
CJK_STOPS = "。！？；：，、）」』】"

_GAP_AFTER_STOP = re.compile(rf"(?<=[{CJK_STOPS}])[ \t\r\n]+(?=\S)")


def sentence_gap(before: str) -> str:
    """What goes between ``before`` and the next sentence: nothing after a full-width stop, else a space."""
    return "" if before.rstrip().endswith(tuple(CJK_STOPS)) else " "


def join_sentences(parts: Sequence[str]) -> str:
    """Join sentences (empty ones dropped) with ``sentence_gap`` between them."""
    out = ""
    for part in (str(p).strip() for p in parts):
        if not part:
            continue
        if out:
            out += sentence_gap(out)
        out += part
    return out


def close_gaps(text: str) -> str:
    """``text`` without the spaces a template leaves after a full-width stop (between two translated
    sentences written on one line with a space, for the languages that take one)."""
    return _GAP_AFTER_STOP.sub("", text)
