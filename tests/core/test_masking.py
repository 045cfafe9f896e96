"""Masking (脱敏) of ID numbers, phone numbers and names, also inside free text (mask_text)."""

from __future__ import annotations

import pytest

from zhiwang.core.masking import mask_id_number, mask_middle, mask_name, mask_phone, mask_text


def test_id_number_keeps_the_first_three_and_last_four():
    assert mask_id_number("440305199001011234") == "440***********1234"


def test_id_number_is_tidied_before_masking():
    assert mask_id_number(" 44030519900101123X ") == "440***********123X"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (None, ""),
        ("", ""),
        ("1234567", "*******"),  # too short to keep both ends and hide a birth date
        ("123456789012", "********9012"),  # the start gives way first, the birth date stays hidden
    ],
)
def test_id_number_short_values(value, masked):
    assert mask_id_number(value) == masked


def test_phone_number():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138 1234 5678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_phone("0755-83456789") == "075*****6789"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (None, ""),
        ("", ""),
        ("110", "***"),
        ("12345", "****5"),
        ("83456789", "****6789"),
        (13812345678, "138****5678"),
    ],
)
def test_phone_short_and_odd_values(value, masked):
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三丰", "张**"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("张", "*"),
        ("", ""),
        (None, ""),
        (" 李四 ", "李*"),
    ],
)
def test_name(value, masked):
    assert mask_name(value) == masked


def test_mask_middle_never_shows_more_than_asked():
    assert mask_middle("abcdef", keep_start=2, keep_end=2) == "ab**ef"
    assert mask_middle("abcd", keep_start=2, keep_end=2) == "a*cd"
    assert mask_middle("ab", keep_start=2, keep_end=2) == "*b"
    assert mask_middle("ab", keep_start=2, keep_end=2, min_masked=2) == "**"


# --- mask_text: full-width forms and other dashes -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("身份证４４０３０５１９９００１０１１２３Ｘ", "１９９００１０１"),
        ("身份证４４０３０５１９９００１０１１２３ｘ被冒用", "１９９００１０１"),
        ("身份证44030519900101123Ｘ", "19900101"),
        ("身份证４４０３０５　１９９００１０１　１２３４", "１９９００１０１"),
        ("电话０７５５－１２３４５６７８", "１２３４５６７８"),
        ("电话0755－12345678", "12345678"),
        ("电话0755—12345678", "12345678"),  # em dash
        ("电话0755–12345678", "12345678"),  # en dash
        ("（０７５５）８８８８９９９９", "８８８８９９９９"),
        ("手机１３８１２３４５６７８", "１２３４５６７８"),
        ("手机138—1234—5678", "1234"),
        ("电话：２６８８１２３４", "２６８８"),
    ],
)
def test_mask_text_hides_full_width_numbers(text, secret):
    masked = mask_text(text)
    assert secret not in masked and "*" in masked, masked


def test_mask_text_keeps_the_words_around_as_written():
    assert mask_text("电话：０７５５－１２３４５６７８，谢谢") == "电话：075*****5678，谢谢"
    assert (
        mask_text("姓名：李明，身份证４４０３０５１９９００１０１１２３Ｘ。")
        == "姓名：李*，身份证440***********123X。"
    )


@pytest.mark.parametrize(
    "text",
    [
        "２０２６－１１－２０交了５００元",
        "2026—2027年度",
        "１３:００–１５:００停水",
        "３栋５０２室",
        "类别编码 ０１０１０２０３０４",
        "我是周边居民",
        "龙华区反映",
        "第１—３层",
    ],
)
def test_mask_text_keeps_full_width_ordinary_numbers(text):
    assert mask_text(text) == text


def test_mask_text_masks_an_email_but_not_the_words_before_it():
    assert mask_text("邮箱zhang.san@qq.com，请回复") == "邮箱z********@qq.com，请回复"


# --- mask_text: names after 本人 / 我是, WeChat, QQ, bank cards, phones in Chinese numerals --------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("本人张伟，住3栋，垃圾没人清运。", "本人张*，住3栋，垃圾没人清运。"),
        ("本人王小明家住3栋", "本人王**家住3栋"),
        ("本人：欧阳娜娜。", "本人：欧***。"),
        ("我是李娜，电话一三八零零一三八零零零。", "我是李*，电话一三八****八零零零。"),
        ("有事加我微信zhangwei_1988联系。", "有事加我微信z************联系。"),
        ("微信号：wxid_abc123", "微信号：w**********"),
        ("vx: zhang_san88", "vx: z**********"),
        ("QQ号 123456789，请回复。", "QQ号 12*****89，请回复。"),
        ("扣扣：12345", "扣扣：***45"),
        ("退款请打到我的银行卡6222021234567890123。", "退款请打到我的银行卡6222***********0123。"),
        ("卡号 6222 0212 3456 7890", "卡号 6222********7890"),
        ("手机幺三八一二三四五六七八", "手机幺三八****五六七八"),
        ("一三八 一二三四 五六七八", "一三八****五六七八"),
        ("电话：零七五五八八八八九九九九", "电话：零七五*****九九九九"),
    ],
)
def test_mask_text_hides_more_personal_data(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "本人认为物业不作为",
        "本人向物业反映过多次",
        "本人于今日上午发现",
        "本人于今日，发现",
        "本人于2026年11月20日反映",
        "本人曾多次反映",
        "本人龙华区居民",
        "本人家住3栋502",
        "我是江苏人，在此租房",
        "我是程序员，晚上加班",
        "我是高层住户",
        "微信支付了50元",
        "关注微信公众号",
        "QQ群里说的",
        "工单ZW20261120000123已办结",
        "快递单号SF1234567890123456",
        "共计1,380.50元，2026-11-20缴费",
        "20261120103000这个时间",
        "南山区桃园路12号501室，3栋2单元1201",
        "电话一直打不通",
        "打了一二三四五次电话",
        "十三亿八千万人口",
    ],
)
def test_mask_text_keeps_ordinary_words_and_numbers_readable(text):
    assert mask_text(text) == text
