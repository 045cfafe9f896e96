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
# such ("微信zhangwei_1988", "QQ 123456789"), a name a caller gives for themselves ("我叫王秀英",
# "本人张伟，", "市民王建国反映"), the name of a third person after the role they play in the matter
# ("车主陈建国", "房东李某某") and licence plates ("粤B12345" → "粤B*****"). Ordinary numbers
# stay: dates ("2026-11-20"), amounts ("500元"), building and room numbers ("3栋502"), short
# codes, ticket numbers ("ZW20261120000123"); so do ordinary words after a role ("业主委员会",
# "车主反映", "司机师傅"). Full-width digits, letters and punctuation and the other dashes are
# matched as their ASCII forms (``_FOLD``): "４４０３０５…１２３Ｘ" and "０７５５－１２３４５６７８"
# are masked too. Numbers are ASCII digits (after folding): the number patterns are compiled with
# ``re.ASCII``, so that their fast path (``_PASSES``: a count of digits) is exact.

_SEP = r"[-. \u00a0]"
# The number patterns start with the first character of a number and check what precedes it after
# it ("\d(?<![0-9A-Za-z]\d)" rather than "(?<![0-9A-Za-z])\d"): the regex engine then skips to the
# next possible first character instead of trying every position (several times faster on long text).
#: 18 characters, possibly in groups ("440305 19900101 1234"); the last may be X.
_ID_NUMBER = re.compile(r"\d(?<![0-9A-Za-z]\d)(?:[- ]?\d){16}[- ]?[\dXx](?![0-9A-Za-z])", re.ASCII)
#: 11-digit mobile numbers, "13812345678", "138 1234 5678", "138.1234.5678", "+86 138-1234-5678".
_MOBILE = re.compile(
    rf"(?:\+(?<![\d+.]\+)86{_SEP}?1|0(?<![\d+.]0)086{_SEP}?1|1(?<![\d+.]1))"
    rf"[3-9]\d{_SEP}?\d{{4}}{_SEP}?\d{{4}}(?![\d])",
    re.ASCII,
)
#: Landlines with an area code: "0755-88889999", "0755 8888 9999", "075588889999", "（0755）88889999".
#: Written without any separator only as a whole 11–12-digit number: a shorter run of digits
#: starting with 0 is as likely a code ("0101020304") as a phone.
_BRACKETED = rf"\s*0\d{{2,3}}\s*[)）]\s*\d{{3,4}}{_SEP}?\d{{4}}"  # after "(" or "（"
_LANDLINE = re.compile(
    rf"(?:\((?<![\d.]\(){_BRACKETED}|（(?<![\d.]（){_BRACKETED}"
    rf"|0(?<![\d.]0)(?:\d{{2,3}}{_SEP}\d{{3,4}}{_SEP}?\d{{4}}|\d{{10,11}}))(?![\d])",
    re.ASCII,
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
_BANK_CARD = re.compile(r"\d(?<![0-9A-Za-z]\d)(?:[- ]?\d){15,18}(?![0-9A-Za-z])", re.ASCII)
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
#: Words that start with a surname character and follow a role (业主, 居民, 车主…) far more often
#: than a name does: "居民向社区反映", "车主于今日", "业主方表示", "业主曾多次", "车主马上",
#: "业主张贴", "司机凌晨", "邻居周末", "房东付款"… 于, 向 and 方 after a role are a preposition or
#: "side" so often that a name with one of these surnames is not masked there (the cost of a
#: readable "业主向物业反映"; ``_CALLER_NAME`` masked "居民向**反映").
_NOT_A_NAME = (
    "于|向|方|曾[经多在向于与被找到把将说表称私擅一两几]|付[款费钱清了租押给出过完账]|张[贴口罗扬]"
    "|马[上路桶]|高[速空价声峰层兴温额度楼处]|周[末边围一二三四五六日期转内]|白[天色白]|凌晨|胡[乱说同]"
    "|何[时处人况]|许[多可]|余[额款]|杜绝|程[序度]|任[意由何凭务]|钟[点头]|陆续|范围|金[额钱]|石[头材]"
    "|夏[天季]|万[元一块多]|严[重格禁]|戴[着了口帽]|莫名|温度|洪水|黎明|顾[客及]|毛[病坯]|熊孩|孙[子女]"
    "|陈[述旧]|黄[色牛]|谢[谢绝]|董事|雷[雨电]|植[物树被]|区[域别]|郑重|甘愿|庞大|纪律|上官网"
)
#: A caller named before what they did: "市民王建国反映", "业主张三投诉" (after 市民/业主/...: two or
#: three characters before 来电/反映/投诉/举报/致电); "王建国来电" (three characters at the start or
#: after a pause, only before 来电/致电: before 反映/投诉 they are as often a place, "龙华区反映").
_CALLER_NAME = re.compile(
    rf"(?<=市民|居民|业主|村民|住户|租户|群众)(?!{_NOT_A_NAME})(?:{_SURNAMES}){_CJK}{{1,2}}?"
    rf"(?=来电|反映|投诉|举报|致电)"
    rf"|(?:(?<=^)|(?<=[，。,.；;：:\s]))(?!{_NOT_A_NAME})(?:{_SURNAMES}){_CJK}{{2}}(?=来电|致电)"
)
#: Roles of other people in a matter, after which their name is written ("车主陈建国把车停在…",
#: "房东李某某不退押金"). Longest first. 业主 not inside 物业主管; 保安 not inside 确保安全.
ROLE_WORDS = (
    "物业经理",
    "物业管家",
    "老板娘",
    "包工头",
    "车主",
    "业主",
    "房东",
    "租客",
    "房客",
    "租户",
    "住户",
    "店主",
    "店长",
    "老板",
    "摊主",
    "司机",
    "邻居",
    "经理",
    "保安",
    "工头",
    "中介",
)
# Each alternative starts with its first character (the checks on what precedes come after it), so
# that the regex engine can skip to a possible first character instead of trying every position.
_ROLE = "|".join(
    {"业主": "业主(?<!物业主)", "保安": "保安(?<![确担]保安)"}.get(word, word) for word in ROLE_WORDS
)
#: What follows a surname when the role is named by it and a title ("车主王先生", "司机李师傅",
#: "老板陈总", "邻居王家"): a surname alone names nobody, it stays.
_TITLE = r"先生|女士|小姐|师傅|阿姨|老师|经理|大[爷妈姐哥叔伯婶娘]|[总姐哥叔伯婶姨工家们]"
#: Characters that start what is said of a person rather than end their name: a third character
#: of one of these is left out of the name ("司机王五把车停在…" masks 王五). Only characters rare at
#: the end of a name (not 强, 才, 和, 有…: "何志强", "王德才"); where one ends a name, its last
#: character shows, the rest is masked.
_AFTER_NAME = (
    "家把将在的地得说讲称不没未又也都还就已于从对向给被让与及跟等是要想"
    "占停堆搭放扔倒拆卖收租住打骂吵闹喊用却再竟仍非这那们到去带拿偷找私擅乱违拒总每"
)
#: A place follows a surname character as often: "车主罗湖区…", "司机龙华…", "业主石岩街道…".
_PLACE_SUFFIX = "区路街村镇市县省道城园站店厂湖山河桥楼栋号室房"
#: A third person's name after their role: "车主陈建国", "房东：李某某", "邻居叫王五". Surname (a
#: common one, so ordinary words after a role stay: 业主委员会, 车主反映, 房东要求, 老板说, 司机师傅)
#: and one or two characters.
_ROLE_NAME = re.compile(
    rf"(?P<lead>(?:{_ROLE})[:：\s]*(?:叫|是)?[:：\s]*)(?!{_NOT_A_NAME})"
    rf"(?P<name>(?:{_SURNAMES})(?!{_TITLE}){_CJK}(?:(?![{_AFTER_NAME}{_PLACE_SUFFIX}]){_CJK})?)"
    rf"(?![{_PLACE_SUFFIX}])"
)
#: Licence plates: a province (or region) character, the letter of the city, and a serial of 5
#: characters (6 on a new-energy plate, "粤BD12345"), or 4 and 挂/学/警/港/澳/领/试 — letters without
#: I and O, at least three digits (so that words and codes stay); "粤B·12345", "粤B 12345" too.
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_CHAR = "A-HJ-NP-Za-hj-np-z0-9"
_PLATE = re.compile(
    rf"(?P<lead>[{PLATE_PROVINCES}] ?[A-HJ-NP-Za-hj-np-z])(?P<sep>[·•・.\- ]?)"
    rf"(?P<serial>(?=(?:[A-Za-z]*[0-9]){{3}})(?:[{_PLATE_CHAR}]{{5,6}}|[{_PLATE_CHAR}]{{4}}[挂学警港澳领试]))"
    r"(?![0-9A-Za-z])"
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
    """Mask ID numbers, bank card and phone numbers, e-mail addresses, WeChat ids, QQ numbers,
    self-given names, third persons' names after their role and licence plates inside free text.

    Anything that is not a non-empty string comes back as it is.
    """
    if not text or not isinstance(text, str):
        return text
    folded = text.translate(_FOLD)
    # Replacements only ever take digits away, so the count stays an upper bound from pass to pass.
    digits = sum(map(folded.count, "0123456789"))
    for pattern, replace, may_match in _PASSES:
        if may_match(folded, digits):
            text, folded = _sub(pattern, replace, text, folded)
    return text


def _has_any(*words: str):
    return lambda folded, _digits: any(word in folded for word in words)


def _cn_mobile_may_match(folded: str, digits: int) -> bool:
    # not only where a Chinese numeral is: ``_mask_cn_mobile`` also masks ASCII digits that
    # ``_MOBILE`` leaves, when grouped by another space ("1618\u00a02587877")
    return digits + sum(map(folded.count, _CN_DIGIT)) >= 11


def _caller_may_match(folded: str, _digits: int) -> bool:
    if "来电" in folded or "致电" in folded:
        return True
    return any(word in folded for word in ("反映", "投诉", "举报")) and any(
        word in folded for word in ("市民", "居民", "业主", "村民", "住户", "租户", "群众")
    )


#: ``mask_text``'s passes, in order: whole numbers first (an ID number before the bank card and
#: phone patterns that would take parts of it), then what is recognised by the words before it.
#: Each pass runs only where a cheap test on the folded text (a count of digits, plain substring
#: tests) says its pattern could match: a regex scan costs far more than these tests and most
#: texts hold none of it. Each test is a necessary condition, so the result is the same as
#: running every pattern (tested in tests/core/test_masking_third_parties.py).
_PASSES = (
    (_ID_NUMBER, lambda m, _t: mask_id_number(_digits(m.group())), lambda _f, digits: digits >= 17),
    (_BANK_CARD, lambda m, _t: mask_bank_card(m.group()), lambda _f, digits: digits >= 16),
    (_MOBILE, lambda m, _t: mask_phone(_digits(m.group())), lambda _f, digits: digits >= 11),
    (_LANDLINE, lambda m, _t: mask_phone(_digits(m.group())), lambda _f, digits: digits >= 10),
    (_CN_MOBILE, lambda m, t: _mask_cn_mobile(_written(m, t, 0)), _cn_mobile_may_match),
    (
        _ANNOUNCED_PHONE,
        lambda m, t: _written(m, t, "lead") + _mask_written_phone(m.group("number")),
        _has_any("电话", "座机", "手机", "联系方式", "tel", "TEL", "Tel"),
    ),
    (_EMAIL, lambda m, _t: _mask_email(m.group()), _has_any("@")),
    (
        _WECHAT,
        lambda m, t: _written(m, t, "lead") + mask_middle(m.group("id"), keep_start=1, keep_end=0),
        # 微信, v信 / wechat / weixin, vx, wx
        _has_any("信", "hat", "x", "X"),
    ),
    (
        _QQ,
        lambda m, t: (
            _written(m, t, "lead") + mask_middle(m.group("number"), keep_start=2, keep_end=2, min_masked=3)
        ),
        _has_any("扣扣", "QQ", "Qq", "qQ", "qq"),
    ),
    (
        _PLATE,
        lambda m, t: _written(m, t, "lead") + _written(m, t, "sep") + MASK_CHAR * len(m.group("serial")),
        lambda folded, digits: digits >= 3 and any(char in folded for char in PLATE_PROVINCES),
    ),
    (
        _SELF_NAME,
        lambda m, t: _written(m, t, "lead") + mask_name(m.group("name")),
        _has_any("叫", "姓名", "联系人"),
    ),
    (
        _INTRODUCED_NAME,
        lambda m, t: _written(m, t, "lead") + mask_name(m.group("name")),
        _has_any("本人", "我是"),
    ),
    (_CALLER_NAME, lambda m, _t: mask_name(m.group()), _caller_may_match),
    (
        _ROLE_NAME,
        lambda m, t: _written(m, t, "lead") + mask_name(m.group("name")),
        _has_any(*ROLE_WORDS),
    ),
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
