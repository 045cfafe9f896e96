"""mask_text: names of third persons after their role, licence plates, and the fast path.

What Open311 publishes (a ticket's description, answer and typed address) is read by anyone: the
car owner, landlord or neighbour a citizen names, and the plate of the car they report, are masked
like the citizen's own data. Ordinary words after a role word stay readable.
"""

from __future__ import annotations

import random

import pytest

from zhiwang.core import masking
from zhiwang.core.masking import ROLE_WORDS, mask_text

# --- a name after the role the person plays ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("车主陈建国把车停在消防通道", "车主陈**把车停在消防通道"),
        ("房东李某某不退押金", "房东李**不退押金"),
        ("老板李某不发工资", "老板李*不发工资"),
        ("车主：张伟，车一直不挪", "车主：张*，车一直不挪"),
        ("房东叫王五，不退押金", "房东叫王*，不退押金"),
        ("司机王五把车停在路口", "司机王*把车停在路口"),  # a two-character name before 把
        ("邻居赵六家天天吵闹", "邻居赵*家天天吵闹"),  # 家 follows the name
        ("业主欧阳娜娜装修扰民", "业主欧***装修扰民"),  # a compound surname
        ("店主刘强占道经营", "店主刘*占道经营"),
        ("老板娘孙丽丽说不退", "老板娘孙**说不退"),
        ("物业经理黄志明不处理", "物业经理黄**不处理"),
        ("租客周杰伦半夜唱歌", "租客周**半夜唱歌"),
        ("房客 林小红 拖欠房租", "房客 林** 拖欠房租"),
        ("我是业主王五，", "我是业主王*，"),
        ("业主张三投诉", "业主张*投诉"),  # the caller pattern takes it first, the same way
        ("中介郑大伟收了定金", "中介郑**收了定金"),
        ("保安何志强态度恶劣", "保安何**态度恶劣"),
        ("司机王德才酒后驾驶", "司机王**酒后驾驶"),  # 强, 才 end names as often as they start a verb
    ],
)
def test_a_name_after_a_role_is_masked(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        # words, not names, after the role words
        "业主委员会不作为",
        "业主大会表决通过",
        "业主群里说的",
        "业主代表来了",
        "业主们都很生气",
        "车主反映车位被占",
        "车主们意见很大",
        "房东要求提前退租",
        "房东同意退押金",
        "租客搬走了",
        "老板说不退",
        "老板娘说不退",
        "店主说明天处理",
        "司机师傅很好",
        "司机开车太快",
        "邻居家小孩哭闹",
        # words that start with a surname character
        "业主向物业反映多次",
        "居民向社区反映",  # _CALLER_NAME masked "向**" before
        "市民于今日来电",
        "车主于今日上午挪车",
        "业主方表示同意",
        "业主曾多次投诉",
        "车主马上挪车",
        "业主张贴告示",
        "司机凌晨鸣笛",
        "邻居周末装修",
        "房东付款后失联",
        "业主何时能入住",
        "司机高速行驶",
        "车主白天不在",
        "邻居孙子很吵",
        "邻居熊孩子",
        "业主任意改造",
        # a surname and a title names nobody
        "车主王先生",
        "司机李师傅",
        "老板陈总",
        "邻居王大爷",
        "邻居王家",
        # a place after a role
        "车主罗湖区过来",
        "司机龙华区过来",
        "业主石岩街道",
        # the role word inside another word
        "物业主管说会处理",
        "确保安全",
    ],
)
def test_ordinary_words_after_a_role_stay(text):
    assert mask_text(text) == text


# --- licence plates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("粤B12345 长期占用车位", "粤B***** 长期占用车位"),
        ("粤BD12345长期占用车位", "粤B******长期占用车位"),  # new energy: 6 characters
        ("粤B·12345停在门口", "粤B·*****停在门口"),
        ("粤B 12345停在门口", "粤B *****停在门口"),
        ("粤B-1A234停在门口", "粤B-*****停在门口"),
        ("粤b12345", "粤b*****"),
        ("粤Ｂ１２３４５停在门口", "粤Ｂ*****停在门口"),  # full-width
        ("车牌号粤BF12345的车", "车牌号粤B******的车"),
        ("京A1234学", "京A*****"),  # a driving-school car
        ("湘A12345和粤B67890", "湘A*****和粤B*****"),
    ],
)
def test_a_licence_plate_keeps_its_province_and_letter(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "新A栋3楼",
        "京A座12层",
        "苏E12",  # too short
        "粤B1234567",  # too long for a plate
        "新版本ABCDE",  # too few digits
        "云计算",
        "粤海街道12号",
        "2026-11-20",
    ],
)
def test_text_that_is_not_a_plate_stays(text):
    assert mask_text(text) == text


# --- the fast path -------------------------------------------------------------------------------


def _every_pass(text: str) -> str:
    """``mask_text`` without its fast path: every pattern run on the text."""
    folded = text.translate(masking._FOLD)
    for pattern, replace, _may_match in masking._PASSES:
        text, folded = masking._sub(pattern, replace, text, folded)
    return text


_PIECES = [
    *ROLE_WORDS,
    *"陈建国李某王五欧阳娜向于方曾先生把家区罗湖学",
    *("居民", "市民", "反映", "投诉", "来电", "致电", "本人", "我是", "我叫", "姓名", "联系人"),
    *("微信", "v信", "vx", "WX", "wechat", "weixin", "QQ", "qq", "扣扣", "电话", "手机", "tel"),
    *(
        "@",
        "a.b",
        "粤",
        "B",
        "京",
        "D",
        "·",
        " ",
        "\u00a0",
        "\u3000",
        "：",
        "，",
        "。",
        "-",
        "—",
        "(",
        "（",
        "）",
    ),
    *"一二三五八九零幺两",
    *"０１８",
    *"0123456789" * 4,
]


def test_the_fast_path_gives_what_every_pattern_gives():
    """Each pass is skipped only where its test says it cannot match: random texts made of the
    words, digits and separators the patterns look for come out as with every pattern run."""
    rnd = random.Random(20261128)
    for _ in range(4000):
        text = "".join(rnd.choice(_PIECES) for _ in range(rnd.randint(1, 30)))
        assert mask_text(text) == _every_pass(text), text


@pytest.mark.parametrize(
    "text",
    [
        "流水号1381234567890",  # a mobile's digits inside a longer number
        "订单12345678901234567890",
        ".13812345678",
        "5(0755)88889999",
        "路灯坏了一个星期",
    ],
)
def test_numbers_inside_longer_numbers_stay(text):
    assert mask_text(text) == text == _every_pass(text)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+8613812345678", "+86138****5678"),
        ("0086 138 1234 5678", "0086138****5678"),
        ("x(0755)88889999", "x075*****9999"),
        ("（0755）88889999", "075*****9999"),
        ("A13812345678", "A138****5678"),
        ("1618\u00a02587877", "161****7877"),  # grouped by a no-break space: the Chinese-numeral pattern's
    ],
)
def test_numbers_after_what_may_precede_them(text, masked):
    assert mask_text(text) == masked
