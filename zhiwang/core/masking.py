"""Masking (脱敏) of personal data for lists, exports and people without need-to-know.

Every function accepts anything (None, numbers, short or malformed strings) and never
raises: masking sits on display paths where an exception would show a whole page
instead of one hidden value. On a value too short to keep both ends and still hide
enough, the kept ends shrink (the start first), down to masking everything.
"""

from __future__ import annotations

MASK_CHAR = "*"


def mask_middle(value, *, keep_start: int, keep_end: int, min_masked: int = 1, char: str = MASK_CHAR) -> str:
    """Replace the middle of ``value`` by ``char``, keeping ``keep_start`` and ``keep_end`` characters.

    When fewer than ``min_masked`` characters would be hidden, the kept ends shrink
    (start first, then end) until enough is hidden.
    """
    text = "" if value is None else "".join(str(value).split())
    length = len(text)
    masked = length - keep_start - keep_end
    if masked < min_masked:
        shortfall = min_masked - masked
        reduce_start = min(keep_start, shortfall)
        keep_start -= reduce_start
        keep_end = max(0, keep_end - (shortfall - reduce_start))
    if keep_start + keep_end >= length:
        return char * length
    return text[:keep_start] + char * (length - keep_start - keep_end) + text[length - keep_end :]


def mask_id_number(value) -> str:
    """Keep the first 3 and last 4, "440305199001011234" → "440***********1234"; the birth date never shows."""
    return mask_middle(value, keep_start=3, keep_end=4, min_masked=8)


def mask_phone(value) -> str:
    """Keep the first 3 and last 4, "13812345678" → "138****5678"; a +86 / 0086 prefix stays, separators go."""
    text = "" if value is None else "".join(str(value).split()).replace("-", "")
    for prefix in ("+86", "0086"):
        if text.startswith(prefix) and len(text) > len(prefix):
            return prefix + mask_middle(text[len(prefix) :], keep_start=3, keep_end=4, min_masked=4)
    return mask_middle(text, keep_start=3, keep_end=4, min_masked=4)


def mask_name(value) -> str:
    """Keep the first character, "张三丰" → "张**"; a one-character name is hidden completely."""
    text = "" if value is None else str(value).strip()
    if len(text) <= 1:
        return MASK_CHAR * len(text)
    return text[0] + MASK_CHAR * (len(text) - 1)
