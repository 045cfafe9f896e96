"""The text pipeline: normalization, masking, raw vs pre-segmented input."""

from __future__ import annotations

from zhiwang.classifier.ml.text import looks_presegmented, normalize, prepare, segment


def test_full_width_letters_digits_and_punctuation_fold_to_half_width():
    assert normalize("ＡＢＣ１２３，Ｈｅｌｌｏ") == "abc123,hello"


def test_urls_emails_phones_and_id_numbers_are_masked():
    text = normalize(
        "详见https://example.gov.cn/a?b=1 联系13812345678或0731-88886666，邮箱a.b@mail.cn，身份证43010219900101123X"
    )
    for secret in ("example.gov.cn", "13812345678", "88886666", "a.b@mail.cn", "43010219900101123"):
        assert secret not in text
    for token in ("urltoken", "phonetoken", "emailtoken", "idtoken"):
        assert token in text


def test_short_numbers_stay_and_long_digit_runs_are_masked():
    text = normalize("2018年12月17日 73条 账号6222020200112233")
    assert "2018" in text and "73" in text
    assert "numtoken" in text and "6222020200112233" not in text


def test_excel_line_break_escapes_are_removed():
    assert "_x000d_" not in normalize("您好！_x000D_ 近日")


def test_raw_and_presegmented_text_give_the_same_tokens():
    raw = "小区电梯故障频发，物业维修不及时！"
    tokens = segment(raw)
    assert "电梯" in tokens and "，" not in tokens and "！" not in tokens
    assert segment(" ".join(tokens)) == tokens


def test_presegmented_detection():
    assert looks_presegmented("市 西湖 建筑 集团 占 道 施工 安全隐患")
    assert not looks_presegmented("市西湖建筑集团占道施工有安全隐患，请处理")
    assert not looks_presegmented("hello world")


def test_explicit_presegmented_flag_wins():
    assert segment("小区电梯", presegmented=True) == ["小区电梯"]
    assert segment("小区 电梯", presegmented=False) == ["小区", "电梯"]


def test_prepare_handles_empty_none_and_english():
    assert prepare(["", None, "   ", "!!!"]) == ["", "", "", ""]
    assert prepare(["Street lamp BROKEN"]) == ["street lamp broken"]


def test_character_only_preparation_needs_no_segmentation():
    assert prepare(["小区电梯，坏了！"], words=False) == ["小区电梯 坏了"]
