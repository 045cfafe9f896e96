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


def mask_bank_card(value) -> str:
    """Keep the first 4 and last 4, "6222021234567890123" → "6222***********0123"; separators go."""
    text = "" if value is None else re.sub(r"[-\s]", "", str(value))
    return mask_middle(text, keep_start=4, keep_end=4, min_masked=8)


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
# an area code in brackets; a mobile also in Chinese numerals, "一三八…"), ID numbers (also written
# in groups), bank card numbers (16–19 digits), e-mail addresses, WeChat ids and QQ numbers named as
# such ("微信zhangwei_1988", "QQ 123456789") and a name a caller gives for themselves ("我叫王秀英",
# "本人张伟，", "市民王建国反映"). Ordinary numbers stay: dates ("2026-11-20"), amounts ("500元"),
# building and room numbers ("3栋502"), short codes, ticket numbers ("ZW20261120000123").
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
    r"(?P<lead>(?:电话|座机|手机|联系方式|tel|TEL|Tel)(?:号码?)?[:：\s]*)"
    r"(?P<number>[0-9零〇一二两三四五六七八九幺](?:[- ]?[0-9零〇一二两三四五六七八九幺]){6,})"
    r"(?![0-9零〇一二两三四五六七八九幺十百千万])"
)
#: Bank card numbers: 16 to 19 digits, possibly in groups ("6222 0212 3456 7890 123"). An 18-digit
#: one is taken by ``_ID_NUMBER`` first (masked the same way). A ticket number ("ZW2026…") or an
#: order code has a letter before its digits and stays.
_BANK_CARD = re.compile(r"(?<![0-9A-Za-z])\d(?:[- ]?\d){15,18}(?![0-9A-Za-z])")
#: The digits of Chinese numerals as people write phone numbers ("一三八零零一三八零零零"; 幺 is the
#: spoken "one", 两 the colloquial "two").
_CN_DIGIT = "零〇一二两三四五六七八九幺"
_PHONE_DIGIT = rf"[0-9{_CN_DIGIT}]"
#: An 11-digit mobile number written (at least partly) in Chinese numerals. Digits only are ``_MOBILE``'s.
_CN_MOBILE = re.compile(
    rf"(?<![0-9{_CN_DIGIT}十百千万])[1一幺][3-9三四五六七八九](?:[-\s]?{_PHONE_DIGIT}){{9}}"
    rf"(?![0-9{_CN_DIGIT}十百千万])"
)
#: A WeChat id named as one: 6–20 letters, digits, "-" and "_", starting with a letter (WeChat's
#: rule). A WeChat that is a phone number is masked as the phone.
_WECHAT = re.compile(
    r"(?P<lead>(?:微信|(?<![A-Za-z])(?:[Ww]e[Cc]hat|[Ww]eixin|[VvWw][Xx]|[Vv]信))(?:号|[Ii][Dd])?"
    r"[:：\s]*(?:是|为)?[:：\s]*)(?P<id>[A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])"
)
#: A QQ number named as one: 5 to 11 digits after "QQ" / "扣扣" (and 号, 号码).
_QQ = re.compile(
    r"(?P<lead>(?:(?<![A-Za-z])[Qq][Qq]|扣扣)(?:号码?)?[:：\s]*(?:是|为)?[:：\s]*)(?P<number>\d{5,11})(?!\d)"
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
#: A name the writer gives for themselves: "我叫王秀英", "姓名：张三".
_SELF_NAME = re.compile(rf"(?P<lead>(?:我叫|名叫|姓名|联系人)[:：\s]*)(?P<name>(?:{_SURNAMES}){_CJK}{{1,2}})")
#: After 本人 and 我是 a name only where it stands alone: before a pause or the end, or before what
#: follows a name ("本人张伟，", "我是李娜。", "本人王小明家住…"), since ordinary words follow them
#: far more often ("本人认为", "我是周边居民", "本人向物业反映", "本人于今日上午"). Not before
#: 反映/投诉, which follow a phrase as often ("本人向物业反映"); not a word ending in 人/的/… ("我是
#: 江苏人，", "我是程序员，"); not 于 + a time word ("本人于今日，").
_NAME_END = r"(?:[，,。.；;：:、\s!！?？)）]|$|来电|致电|家住|住在|现住|电话|手机|联系|身份证)"
_INTRODUCED_NAME = re.compile(
    rf"(?P<lead>(?:本人|我是)[:：\s]*)(?!于[今昨前本近上下当此这那该是])"
    rf"(?P<name>(?:{_SURNAMES}){_CJK}{{1,2}}?)(?<![人的们家区市省县镇村员工者户长])(?={_NAME_END})"
)
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


def _sub(pattern: re.Pattern, replace, text: str, folded: str) -> tuple[str, str]:
    """``pattern.sub`` matched on the folded text; ``replace(match, text)`` reads the digits from the
    match (folded: ASCII) and words to keep as they were from ``_written(match, text, group)``.

    Returns the new text and its folded form. Folding maps one character to one, so the folded
    form is carried from pass to pass (the unchanged parts sliced, only replacements folded)
    instead of folding the whole text again for every pattern: that was most of the cost.
    """
    parts, folded_parts, last = [], [], 0
    for match in pattern.finditer(folded):
        replacement = replace(match, text)
        parts += [text[last : match.start()], replacement]
        folded_parts += [folded[last : match.start()], replacement.translate(_FOLD)]
        last = match.end()
    if not parts:
        return text, folded
    parts.append(text[last:])
    folded_parts.append(folded[last:])
    return "".join(parts), "".join(folded_parts)


def _written(match: re.Match, text: str, group: str | int) -> str:
    """A group of a match in the folded text, as the original text has it."""
    return text[slice(*match.span(group))]


def _mask_written_phone(value: str) -> str:
    """A phone number as written (ASCII digits, or Chinese numerals), masked like ``mask_phone``."""
    compact = re.sub(r"[-\s]", "", value)
    if compact.isascii():
        return mask_phone(_digits(compact))
    return mask_middle(compact, keep_start=3, keep_end=4, min_masked=4)


def _mask_cn_mobile(written: str) -> str:
    # one in ASCII digits only is ``_MOBILE``'s: a shape it does not take is left as it is
    if written.translate(_FOLD).isascii():
        return written
    return _mask_written_phone(written)


def _mask_email(value: str) -> str:
    local, _at, domain = value.partition("@")
    return f"{mask_middle(local, keep_start=1, keep_end=0, min_masked=1)}@{domain}"


def mask_text(text):
    """Mask ID numbers, bank card and phone numbers, e-mail addresses, WeChat ids, QQ numbers and
    self-given names inside free text.

    Anything that is not a non-empty string comes back as it is.
    """
    if not text or not isinstance(text, str):
        return text
    folded = text.translate(_FOLD)
    for pattern, replace in _PASSES:
        text, folded = _sub(pattern, replace, text, folded)
    return text


#: ``mask_text``'s passes, in order: whole numbers first (an ID number before the bank card and
#: phone patterns that would take parts of it), then what is recognised by the words before it.
_PASSES = (
    (_ID_NUMBER, lambda m, _t: mask_id_number(_digits(m.group()))),
    (_BANK_CARD, lambda m, _t: mask_bank_card(m.group())),
    (_MOBILE, lambda m, _t: mask_phone(_digits(m.group()))),
    (_LANDLINE, lambda m, _t: mask_phone(_digits(m.group()))),
    (_CN_MOBILE, lambda m, t: _mask_cn_mobile(_written(m, t, 0))),
    (_ANNOUNCED_PHONE, lambda m, t: _written(m, t, "lead") + _mask_written_phone(m.group("number"))),
    (_EMAIL, lambda m, _t: _mask_email(m.group())),
    (_WECHAT, lambda m, t: _written(m, t, "lead") + mask_middle(m.group("id"), keep_start=1, keep_end=0)),
    (
        _QQ,
        lambda m, t: (
            _written(m, t, "lead") + mask_middle(m.group("number"), keep_start=2, keep_end=2, min_masked=3)
        ),
    ),
    (_SELF_NAME, lambda m, t: _written(m, t, "lead") + mask_name(m.group("name"))),
    (_INTRODUCED_NAME, lambda m, t: _written(m, t, "lead") + mask_name(m.group("name"))),
    (_CALLER_NAME, lambda m, _t: mask_name(m.group())),
)


def mask_data(value):
    """``mask_text`` over every string inside ``value`` (dicts, lists and tuples walked; keys kept)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_data(v) for v in value)
    return value
