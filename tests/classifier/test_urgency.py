"""The rule-based urgency scorer: present dangers, hazards, supply loss, reasons, bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from zhiwang.classifier import services
from zhiwang.classifier.ml.urgency import LEVEL_NONE, LEVEL_POSSIBLE, LEVEL_URGENT, assess

LABELS = Path(__file__).parent / "data" / "urgency_hand_labels.csv"


def codes(result):
    return [code for code, _phrase, _label in result.reasons]


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("小区3栋楼道燃气泄漏，气味很大", "gas_leak"),
        ("菜市场旁边民房着火了", "fire"),
        ("电梯故障，老人被困在电梯里", "trapped"),
        ("路口红绿灯不亮，车辆乱成一团", "traffic_signal"),
        ("工地围墙随时可能倒塌", "collapse"),
        ("小区道路井盖丢失，晚上看不见", "manhole"),
    ],
)
def test_a_present_danger_named_in_the_title_is_urgent(title, code):
    result = assess(title, "请有关部门尽快处理。")
    assert result.level == LEVEL_URGENT
    assert result.urgency == "urgent"
    assert code in codes(result) and "in_title" in codes(result)


def test_the_same_danger_only_in_the_body_is_possible():
    result = assess("反映小区物业管理问题", "物业收费不合理。今天下午3栋楼道燃气泄漏，气味很大。")
    assert result.level == LEVEL_POSSIBLE
    assert result.urgency == "normal"
    assert codes(result)[0] == "gas_leak"


@pytest.mark.parametrize(
    "body",
    [
        "消防通道被占用，一旦发生火灾后果不堪设想",  # hypothetical
        "电动车在楼道充电，存在火灾隐患",  # general hazard
        "去年小区发生过火灾，至今没有整改消防设施",  # past event
        "围墙剩下没有垮塌的部分也已经开裂",  # negated
        "担心房子会倒塌",  # a worry
        "学校门口老人孩子多，每天都很拥挤",  # vulnerable people alone
    ],
)
def test_risks_worries_and_past_events_are_not_urgent(body):
    result = assess("小区安全问题", body)
    assert result.level == LEVEL_NONE
    assert result.score < 3


def test_a_supply_loss_needs_a_sign_that_it_is_going_on():
    assert assess("", "小区停水。").level == LEVEL_NONE
    assert assess("", "小区停水已经三天了，老人孩子没水喝").level == LEVEL_POSSIBLE
    lasting = assess("枫华府邸小区停水7天了", "至今无人处理")
    assert lasting.level == LEVEL_URGENT
    assert {"supply_loss", "in_title", "ongoing"} <= set(codes(lasting))


def test_reasons_carry_the_phrase_and_a_readable_label():
    result = assess("楼下饭店起火，浓烟很大", "现在还有老人在楼上")
    data = result.as_dict()
    assert data["urgency"] == "urgent" and data["level"] == LEVEL_URGENT
    fire = next(r for r in data["reasons"] if r["code"] == "fire")
    assert fire["phrase"] in "楼下饭店起火，浓烟很大" and fire["label"]
    assert {"ongoing", "vulnerable"} <= {r["code"] for r in data["reasons"]}
    assert data["score"] == result.score >= 5


@pytest.mark.parametrize(
    "text", ["", None, "好", "There is a gas leak in building 3", "！！！", "停" * 100_000, "火" * 50_000]
)
def test_bad_input_never_raises(text):
    result = assess(text, text)
    assert result.level in (LEVEL_URGENT, LEVEL_POSSIBLE, LEVEL_NONE)
    assert result.urgency in ("urgent", "normal")


def test_service_function_gives_the_same_assessment():
    result = services.assess_urgency(title="小区3栋燃气泄漏", body="请马上处理")
    assert result.as_dict() == assess("小区3栋燃气泄漏", "请马上处理").as_dict()
    assert services.assess_urgency().urgency == "normal"


@pytest.mark.shared_data
def test_hand_labelled_real_messages(shared_data):
    """Regression guard on the 260 hand-labelled messages (figures in docs/classifier.md)."""
    with open(shared_data / "complaints" / "unlabelled_with_votes.csv", encoding="utf-8") as handle:
        messages = {r["message_id"]: r for r in csv.DictReader(handle)}
    with open(LABELS, encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    assert len(labels) == 260 and all(row["message_id"] in messages for row in labels)
    urgent = [row for row in labels if row["urgency"] == "urgent"]
    results = {
        row["message_id"]: assess(messages[row["message_id"]]["title"], messages[row["message_id"]]["text"])
        for row in labels
    }
    # screen (urgent or possible): every hand-labelled urgent message is caught
    caught = sum(results[row["message_id"]].level != LEVEL_NONE for row in urgent)
    assert caught / len(urgent) >= 0.95
    flagged = [row for row in labels if results[row["message_id"]].level == LEVEL_URGENT]
    precision = sum(row["urgency"] == "urgent" for row in flagged) / len(flagged)
    assert precision >= 0.7
