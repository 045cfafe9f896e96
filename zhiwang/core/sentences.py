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


#: Marks a headline may end before (the end of a sentence or clause), Chinese and Latin.
_CLAUSE_ENDS = "。！？；，、：.!?;,:\n"


def headline(text: str, limit: int = 40, *, shortest: int = 12) -> str:
    """The start of ``text`` as a title of at most ``limit`` characters, ended at the last clause
    mark (。，；…) within the limit rather than mid-word, and without that mark.

    Still a prefix of ``text`` (the classifier reads a title only when it says more than the
    description's start), so nothing is added: no ellipsis. A text with no clause mark after
    ``shortest`` characters is cut at ``limit``.
    """
    text = (text or "").strip()
    if len(text) <= limit:
        return text.rstrip(_CLAUSE_ENDS) or text
    window = text[: limit + 1]
    cut = max(window.rfind(mark) for mark in _CLAUSE_ENDS)
    if cut >= shortest:
        return window[:cut].rstrip()
    return text[:limit]
