"""Small hand-written Chinese corpus and a model trained on it once per test session."""

from __future__ import annotations

import random

import pytest

PLACES = [
    "A市",
    "B区",
    "西湖街道",
    "燕子山社区",
    "火炬路",
    "书院路",
    "K3县",
    "南门街",
    "湖天南路",
    "杜鹃文苑小区",
]

TEMPLATES = {
    "城乡建设": [
        "{p}小区电梯故障频发，物业维修不及时",
        "{p}道路施工围挡占用人行道，工地安全隐患大",
        "{p}房屋漏水开发商不维修，请住建部门处理",
        "{p}违章建筑搭建多年，请求城管拆除",
    ],
    "环境保护": [
        "{p}工厂夜间偷排废水，河水发黑发臭",
        "{p}化工厂排放废气，空气刺鼻污染严重",
        "{p}工地夜间施工噪音扰民，环保局请查处",
        "{p}垃圾焚烧冒黑烟，污染环境影响健康",
    ],
    "教育文体": [
        "{p}学校违规收取补课费，家长负担重",
        "{p}幼儿园学位紧张，孩子入学困难",
        "{p}中学老师体罚学生，请教育局调查",
        "{p}体育馆长期关闭，市民无处健身",
    ],
    "交通运输": [
        "{p}公交车班次太少，乘客等车一小时",
        "{p}出租车拒载绕路，乘客投诉司机",
        "{p}红绿灯故障，路口交通拥堵",
        "{p}货车超载上路，公路被压坏",
    ],
}


def make_corpus(per_template: int = 4, seed: int = 7) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, templates in TEMPLATES.items():
        for template in templates:
            for place in rng.sample(PLACES, per_template):
                texts.append(
                    template.format(p=place) + rng.choice(["", "。希望尽快解决！", "，多次反映无果。"])
                )
                labels.append(label)
    return texts, labels


@pytest.fixture(scope="session")
def corpus() -> tuple[list[str], list[str]]:
    return make_corpus()


@pytest.fixture(scope="session")
def trained(corpus):
    from zhiwang.classifier.ml import train

    texts, labels = corpus
    return train(texts, labels, cv=2)


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.ZHIWANG_MODEL_DIR = tmp_path / "models"
    return settings.ZHIWANG_MODEL_DIR
