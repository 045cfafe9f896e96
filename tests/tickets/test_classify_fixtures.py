"""A tiny category model (leaf codes of the default catalogue) for the smart-dispatch tests.

Trained once per session (well under a second); each test registers and promotes it in
its own model folder (``ZHIWANG_MODEL_DIR`` in a tmp dir), so the database rollback and
the folder agree.
"""

from __future__ import annotations

import random

import pytest

from tests.tickets.conftest import ILLEGAL_BUILDING, RUBBISH

MANHOLE = "GI0201"  # 井盖缺失破损
NEIGHBOURS = "GI0501"  # 邻里纠纷

PLACES = [
    "南山区桃源街道",
    "我们小区",
    "学校门口",
    "地铁站附近",
    "工业园区",
    "城中村",
    "公交站旁边",
    "菜市场",
]
TEMPLATES = {
    RUBBISH: [
        "{p}垃圾堆了好几天没人清运",
        "{p}有人乱扔垃圾，垃圾堆发臭",
        "{p}暴露垃圾无人清理，气味很大",
        "{p}生活垃圾满地，请安排清运",
    ],
    MANHOLE: [
        "{p}井盖丢了，很危险",
        "{p}窨井盖破损，行人容易踩空",
        "{p}下水道井盖缺失，晚上看不见",
        "{p}井盖松动，车辆经过响声很大",
    ],
    ILLEGAL_BUILDING: [
        "{p}有人私搭乱建，楼顶加建铁皮房",
        "{p}违建越盖越高，请城管拆除",
        "{p}一楼住户违法搭建雨棚占用通道",
        "{p}天台加建房屋，违章建筑",
    ],
    NEIGHBOURS: [
        "{p}楼上邻居半夜噪音扰民",
        "{p}邻居家漏水到我家，协商不成",
        "{p}邻里纠纷，对门堆放杂物吵架",
        "{p}隔壁邻居装修噪音，沟通无果",
    ],
}


def corpus(seed: int = 3) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, templates in TEMPLATES.items():
        for template in templates:
            for place in rng.sample(PLACES, 5):
                texts.append(
                    template.format(p=place) + rng.choice(["", "，请尽快处理。", "，多次反映无果！"])
                )
                labels.append(label)
    return texts, labels


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory):
    from zhiwang.classifier.ml import train

    texts, labels = corpus()
    trained = train(texts, labels, cv=2)
    return trained.save(tmp_path_factory.mktemp("tiny-category") / "model")


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.ZHIWANG_MODEL_DIR = tmp_path / "models"
    return settings.ZHIWANG_MODEL_DIR


@pytest.fixture
def active_model(db, tiny_trained, model_dir):
    """The tiny model, registered and active; threshold 0.5 (confident texts go automatically)."""
    from zhiwang.classifier import services as classifier_services
    from zhiwang.tickets.services.smart import classifier_promote

    model = classifier_services.model_register(name="category", directory=tiny_trained)
    classifier_services.model_set_threshold(model=model, threshold=0.5)
    return classifier_promote(model=model)
