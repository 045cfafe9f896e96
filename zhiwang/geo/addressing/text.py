"""Text clean-up for Chinese addresses: width, noise, numerals, canonical keys.

Everything here is pure (no database), so the parser can be evaluated and
benchmarked on any address list.
"""

from __future__ import annotations

import re
import unicodedata

_PREFIXES = ("中华人民共和国", "中国")

#: Phone numbers (mobile, landline with area code, 400/800 lines), with an optional label. A
#: space may split the groups (138 1234 5678, 0755 8888 8888): ``clean`` keeps one between digits.
_PHONE_RE = re.compile(
    r"(?:电话|手机|联系电话|tel|TEL|Tel)?[:：]?"
    r"(?:(?<!\d)1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)|(?<!\d)0\d{2,3}[ -]?(?:\d{7,8}|\d{3,4}[ -]\d{4})(?!\d)"
    r"|(?<!\d)[48]00[ -]?\d{3}[ -]?\d{4}(?!\d))"
)
#: Whitespace, or punctuation the clean-up drops, between two digits: "科苑大道 118 1栋 101" is
#: road number 118, building 1, room 101, not building 1181. It becomes one space, which no
#: pattern of the parser reads as part of a number (so the two numbers stay apart).
_DIGIT_GAP_RE = re.compile(r"(?<=\d)(?:\s|[,，。;；:：、·])+(?=\d)")
#: Whitespace to drop: all of it but the single spaces ``_DIGIT_GAP_RE`` leaves between digits.
_WHITESPACE_RE = re.compile(r"(?<!\d)\s+|\s+(?!\d)")
#: Digits of a plausible building, unit, floor or room number; a longer run is no such number.
#: (Without a bound a pasted run of thousands of digits made ``int()`` raise.)
MAX_NUMBER_DIGITS = 9
#: Bracketed remarks: （腾讯大厦旁边）, (靠近地铁), 【】, [].
_BRACKET_RE = re.compile(r"[(（\[【〔][^()（）\[\]【】〔〕]*[)）\]】〕]")
#: Words that describe a position relative to a place rather than a place.
NOISE_WORDS = (
    "斜对面",
    "对面",
    "附近",
    "旁边",
    "隔壁",
    "周边",
    "一带",
    "楼下",
    "交界处",
    "交汇处",
    "交叉口",
    "路口",
    "门口",
    "处",
)
_NOISE_RE = re.compile("|".join(NOISE_WORDS))
#: Separators that carry no meaning between words (but keep 12-01 and 3-2-301).
_SEPARATOR_RE = re.compile(r"(?<![0-9A-Za-z])[-_—~～/|]+|[-_—~～/|]+(?![0-9A-Za-z])|[,，。;；:：、·\"'“”‘’]+")

#: A bracket whose text has one of these is a remark (dropped); else it may be the address itself.
_REMARK_RE = re.compile(r"旁|对面|附近|靠近|近|地铁|出口|米|电话|手机|联系|原|即|[a-zA-Z]{3,}")
_ADDRESS_MARK_RE = re.compile(r"区|路|街|道|号|栋|楼|座|村|镇")


def _bracket(m: re.Match) -> str:
    inner = m.group()[1:-1]
    if _REMARK_RE.search(inner) or not _ADDRESS_MARK_RE.search(inner):
        return ""
    return inner


CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUM = "零〇一二两三四五六七八九十百千"


def _squeeze(text: str) -> str:
    """NFKC, without whitespace, except one space between two digits (``_DIGIT_GAP_RE``)."""
    text = _DIGIT_GAP_RE.sub(" ", unicodedata.normalize("NFKC", text or ""))
    return _WHITESPACE_RE.sub("", text)


def normalize(text: str) -> str:
    """Full-width → half-width, no spaces (one between two numbers), no 中国 / 广东省 prefix noise."""
    text = _squeeze(text)
    for prefix in (*_PREFIXES, "广东省"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def clean(text: str) -> str:
    """``normalize`` without dropping the province, then without phones, remarks in brackets,
    relative-position words and stray separators."""
    text = _squeeze(text)
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = _PHONE_RE.sub("", text)
    text = _BRACKET_RE.sub(_bracket, text)
    text = text.replace("(", "").replace(")", "")
    text = _NOISE_RE.sub("", text)
    text = _SEPARATOR_RE.sub("", text)
    return _WHITESPACE_RE.sub("", text)  # a phone or remark cut out may leave a space by a digit


def cn_to_int(text: str) -> int | None:
    """三 → 3, 十二 → 12, 二十一 → 21, 一二〇一 → 1201, 12 → 12; None when not a number, or
    longer than ``MAX_NUMBER_DIGITS`` characters (no building, unit, floor or room has such a number)."""
    if not text or len(text) > MAX_NUMBER_DIGITS:
        return None
    if text.isdecimal():
        return int(text)
    if any(ch not in CN_DIGITS and ch not in CN_UNITS for ch in text):
        return None
    if not any(ch in CN_UNITS for ch in text):
        return int("".join(str(CN_DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in CN_DIGITS:
            current = CN_DIGITS[ch]
        else:
            total += (current or 1) * CN_UNITS[ch]
            current = 0
    return total + current


def number_key(text: str) -> str:
    """Canonical key of a building / unit / room label: 三栋 → 3, C座 → C, 3号楼 → 3, 1201室 → 1201."""
    text = unicodedata.normalize("NFKC", text or "").upper()
    text = re.sub(r"(号楼|号房|栋|幢|座|单元|室|房|号|楼|层|#|第|门|铺|F)", "", text)
    text = text.strip("-")
    if not text:
        return ""
    value = cn_to_int(text)
    if value is not None:
        return str(value)
    # Mixed: convert the Chinese numeral runs only (二期 → 2期).
    return re.sub(f"[{CN_NUM}]+", lambda m: str(cn_to_int(m.group()) or m.group()), text)
