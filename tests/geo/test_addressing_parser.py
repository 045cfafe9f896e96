"""parse_address: free text → components, without a database."""

from __future__ import annotations

import csv
import json
import unicodedata

import pytest

from zhiwang.geo.addressing import clean, cn_to_int, normalize, number_key, parse_address


def test_normalize_keeps_its_old_contract():
    assert normalize(" 广东省深圳市ＮＡＮ山区 １２号 ") == "深圳市NAN山区12号"
    assert normalize("中国广东省深圳市") == "深圳市"


@pytest.mark.parametrize(
    ("text", "value"),
    [("三", 3), ("十二", 12), ("二十一", 21), ("一百零五", 105), ("一二〇一", 1201), ("12", 12)],
)
def test_chinese_numerals(text, value):
    assert cn_to_int(text) == value


def test_chinese_numeral_rejects_words():
    assert cn_to_int("第一商务") is None and cn_to_int("") is None


@pytest.mark.parametrize("label", ["三栋", "3栋", "3座", "3号楼", "3幢", "第三栋", "３栋"])
def test_building_forms_share_one_key(label):
    assert number_key(label) == "3"
    assert parse_address(f"阳光花园{label}").keys["building"] == "3"


@pytest.mark.parametrize("room", ["1201室", "12楼01", "12-01", "1201房", "1201", "十二楼01"])
def test_room_forms(room):
    parsed = parse_address(f"阳光花园3栋2单元{room}")
    assert parsed.keys["room"] == "1201" and parsed.keys["floor"] == "12", parsed
    assert parsed.keys["unit"] == "2"


def test_full_address_components():
    parsed = parse_address("广东省深圳市南山区粤海街道科技园社区科苑路15号科兴科学园B栋2单元12楼1201室")
    assert parsed.components == {
        "province": "广东省",
        "city": "深圳市",
        "district": "南山区",
        "subdistrict": "粤海街道",
        "community": "科技园社区",
        "road": "科苑路",
        "road_number": "15号",
        "estate": "科兴科学园",
        "building": "B栋",
        "unit": "2单元",
        "floor": "12楼",
        "room": "1201室",
    }
    assert parsed.keys["building"] == "B" and parsed.keys["road_number"] == "15"


def test_short_names_missing_levels_and_noise():
    parsed = parse_address("金华永康市方岩镇下宅村万里公路832弄125号")
    assert parsed.get("city") == "金华" and parsed.get("district") == "永康市"
    assert parsed.get("subdistrict") == "方岩镇" and parsed.get("community") == "下宅村"
    assert parsed.get("road") == "万里公路" and parsed.get("road_number") == "832弄"
    noisy = parse_address("（靠近地铁站）星河花园 五栋 对面 电话：13912345678")
    assert noisy.get("estate") == "星河花园" and noisy.keys["building"] == "5"
    assert "13912345678" not in noisy.text
    # A bracket that holds the address itself is kept.
    assert "福田区" in clean("深圳（深圳福田区深南大道2008号）")


def test_a_district_short_name_inside_a_road_name_is_not_a_district():
    parsed = parse_address("宝安北路2011号桃园商业大厦")
    assert parsed.get("road") == "宝安北路" and "district" not in parsed.components
    assert parsed.get("estate") == "桃园商业大厦"


def test_triples_and_repeated_prefixes():
    parsed = parse_address("浙江省宁波市江北区浙江省宁波市江北区阳光小区12-3-501")
    assert parsed.get("province") == "浙江省" and parsed.get("district") == "江北区"
    assert (parsed.keys["building"], parsed.keys["unit"], parsed.keys["room"]) == ("12", "3", "501")


# --- the labelled corpus (../shared/data, never shipped) -------------------------------------------

LABELS = {"prov": "province", "city": "city", "district": "district", "town": "subdistrict", "road": "road",
          "roadno": "road_number", "poi": "estate", "houseno": "building", "cellno": "unit",
          "floorno": "floor", "roomno": "room"}  # fmt: skip

#: Recall (exact text) measured on parsing_dev.csv when the rules were written, less a margin:
#: a change that loses more than that fails here. See benchmarks/address_bench.py for the full table.
MINIMUM = {"province": 0.95, "city": 0.93, "district": 0.94, "subdistrict": 0.76, "road": 0.80,
           "road_number": 0.84, "estate": 0.51, "building": 0.69, "unit": 0.66, "floor": 0.86,
           "room": 0.74}  # fmt: skip


@pytest.mark.shared_data
def test_component_accuracy_on_the_labelled_dev_set(shared_data):
    path = shared_data / "addresses" / "parsing_dev.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    total, correct = {}, {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            gold = {}
            for label, text in json.loads(row["segments_json"]):
                name = LABELS.get(label)
                if name and name not in gold:
                    gold[name] = "".join(unicodedata.normalize("NFKC", text).split())
            found = parse_address(row["address"]).components
            for name, value in gold.items():
                total[name] = total.get(name, 0) + 1
                correct[name] = correct.get(name, 0) + (found.get(name) == value)
    recall = {name: correct[name] / total[name] for name in total}
    low = {name: round(recall[name], 3) for name, floor in MINIMUM.items() if recall[name] < floor}
    assert not low, f"component recall fell below the floor: {low}"
