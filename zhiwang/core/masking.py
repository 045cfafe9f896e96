"""Masking (脱敏) of personal data for lists, exports and people without need-to-know.

Every function accepts anything (None, numbers, short or malformed strings) and never
raises: masking sits on display paths where an exception would show a whole page
instead of one hidden value. On a value too short to keep both ends and still hide
enough, the kept ends shrink (the start first), down to masking everything.
"""

from __future__ import annotations

import re

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


# --- personal data typed into free text ---------------------------------------------------------
#
# ``mask_text`` is the one masker of free text (ticket descriptions, replies and addresses published
# by Open311, alert explanations): phone numbers (mobile and landline, with spaces, dashes, dots or
# an area code in brackets), ID numbers (also written in groups), e-mail addresses and a name a
# caller gives for themselves ("我叫王秀英", "市民王建国反映"). Ordinary numbers stay: dates
# ("2026-11-20"), amounts ("500元"), building and room numbers ("3栋502"), short codes.
# Full-width digits, letters and punctuation and the other dashes are matched as their ASCII
# forms (``_FOLD``): "４４０３０５…１２３Ｘ" and "０７５５－１２３４５６７８" are masked too.

_SEP = r"[-. \u00a0]"
#: 18 characters, possibly in groups ("440305 19900101 1234"); the last may be X.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d(?:[- ]?\d){16}[- ]?[\dXx](?![0-9A-Za-z])")
#: 11-digit mobile numbers, "13812345678", "138 1234 5678", "138.1234.5678", "+86 138-1234-5678".
_MOBILE = re.compile(rf"(?<![\d+.])(?:(?:\+|00)86{_SEP}?)?1[3-9]\d{_SEP}?\d{{4}}{_SEP}?\d{{4}}(?![\d])")
#: Landlines with an area code: "0755-88889999", "0755 8888 9999", "075588889999", "（0755）88889999".
#: Written without any separator only as a whole 11–12-digit number: a shorter run of digits
#: starting with 0 is as likely a code ("0101020304") as a phone.
_LANDLINE = re.compile(
    rf"(?<![\d.])(?:[(（]\s*0\d{{2,3}}\s*[)）]\s*\d{{3,4}}{_SEP}?\d{{4}}"
    rf"|0\d{{2,3}}{_SEP}\d{{3,4}}{_SEP}?\d{{4}}|0\d{{10,11}})(?![\d])"
)
#: Any run of 7 or more digits right after a word that announces a phone number ("电话 26881234").
_ANNOUNCED_PHONE = re.compile(
    r"(?P<lead>(?:电话|座机|手机|联系方式|tel|TEL|Tel)(?:号码?)?[:：\s]*)(?P<number>\d(?:[- ]?\d){6,})(?![\d])"
)
# ASCII only: ``\w`` would take the Chinese words written before an address ("邮箱zhang@…").
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
#: Common surnames (single and compound) for spotting a name after "我叫" and the like.
_SURNAMES = (
    "欧阳|司马|诸葛|上官|东方|皇甫|慕容|令狐|司徒|夏侯|公孙|长孙|宇文|尉迟|端木|"
    "[王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
    "戴莫孔向汤温欧庞饶甘柯康伍骆池洪卓邝麦谭区冼岑植翁凌钟闵庄纪祝阮]"
)
_CJK = r"[\u4e00-\u9fff]"
#: A name the writer gives for themselves: "我叫王秀英", "姓名：张三". Not after 我是 or 本人,
#: which are followed by ordinary words far more often ("我是周边居民", "本人向物业反映").
_SELF_NAME = re.compile(rf"(?P<lead>(?:我叫|名叫|姓名|联系人)[:：\s]*)(?P<name>(?:{_SURNAMES}){_CJK}{{1,2}})")
#: A caller named before what they did: "市民王建国反映", "业主张三投诉" (after 市民/业主/...: two or
#: three characters before 来电/反映/投诉/举报/致电); "王建国来电" (three characters at the start or
#: after a pause, only before 来电/致电: before 反映/投诉 they are as often a place, "龙华区反映").
_CALLER_NAME = re.compile(
    rf"(?<=市民|居民|业主|村民|住户|租户|群众)(?:{_SURNAMES}){_CJK}{{1,2}}?(?=来电|反映|投诉|举报|致电)"
    rf"|(?:(?<=^)|(?<=[，。,.；;：:\s]))(?:{_SURNAMES}){_CJK}{{2}}(?=来电|致电)"
)


#: Written forms matched as their ASCII equivalent, one character for one so that positions in
#: the folded text are positions in the original: the full-width forms ("４４０３", "Ｘ", "－",
#: "＠", "（"; their NFKC mappings), the ideographic space, and the dashes people type between
#: digits ("—", "–", "−"), which NFKC leaves alone.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = " "
_FOLD.update(dict.fromkeys((0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63), "-"))


def _digits(value: str) -> str:
    return re.sub(r"[^\dXx+]", "", value)


def _sub(pattern: re.Pattern, replace, text: str) -> str:
    """``pattern.sub`` matched on the folded text; ``replace(match, text)`` reads the digits from the
    match (folded: ASCII) and words to keep as they were from ``_written(match, text, group)``."""
    folded = text.translate(_FOLD)
    parts, last = [], 0
    for match in pattern.finditer(folded):
        parts += [text[last : match.start()], replace(match, text)]
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)


def _written(match: re.Match, text: str, group: str) -> str:
    """A group of a match in the folded text, as the original text has it."""
    return text[slice(*match.span(group))]


def _mask_email(value: str) -> str:
    local, _at, domain = value.partition("@")
    return f"{mask_middle(local, keep_start=1, keep_end=0, min_masked=1)}@{domain}"


def mask_text(text):
    """Mask ID numbers, phone numbers, e-mail addresses and self-given names inside free text.

    Anything that is not a non-empty string comes back as it is.
    """
    if not text or not isinstance(text, str):
        return text
    text = _sub(_ID_NUMBER, lambda m, _t: mask_id_number(_digits(m.group())), text)
    text = _sub(_MOBILE, lambda m, _t: mask_phone(_digits(m.group())), text)
    text = _sub(_LANDLINE, lambda m, _t: mask_phone(_digits(m.group())), text)
    text = _sub(
        _ANNOUNCED_PHONE,
        lambda m, t: _written(m, t, "lead") + mask_phone(_digits(m.group("number"))),
        text,
    )
    text = _sub(_EMAIL, lambda m, _t: _mask_email(m.group()), text)
    text = _sub(_SELF_NAME, lambda m, t: _written(m, t, "lead") + mask_name(m.group("name")), text)
    return _sub(_CALLER_NAME, lambda m, _t: mask_name(m.group()), text)


def mask_data(value):
    """``mask_text`` over every string inside ``value`` (dicts, lists and tuples walked; keys kept)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_data(v) for v in value)
    return value
