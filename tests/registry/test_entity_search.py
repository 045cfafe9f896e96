"""Entity name search: "contains" for one, two (bigram index on PostgreSQL) and three or more
characters (trigram index on PostgreSQL), in name order, the credit code exactly; SQLite: LIKE."""

from __future__ import annotations

import random

import pytest

from zhiwang.registry.demo import make_credit_code
from zhiwang.registry.models import LegalEntity
from zhiwang.registry.selectors import entity_search

NAMES = [
    "深圳市华鹏科技有限公司",
    "深圳市鹏华贸易有限公司",
    "深圳市华为技术有限公司",
    "深圳市科华鹏创新有限公司",
    "南山区华鹏小吃店",
    "深圳市天汇德物流有限公司",
]


@pytest.fixture
def entities(db, home_community):
    rng = random.Random(4)
    return [
        LegalEntity.objects.create(
            credit_code=make_credit_code("440305", rng), name=name, community=home_community
        )
        for name in NAMES
    ]


@pytest.mark.parametrize(
    "q",
    ["华", "华鹏", "鹏华", "有限", "华鹏科", "科华鹏创", "有限公司", "物流", "没有的", "没有", "司"],
)
def test_contains_answers_every_match_in_name_order(entities, steward, q):
    found = [e.name for e in entity_search(user=steward, q=q)]
    assert found == sorted(n for n in NAMES if q in n)


def test_limit_and_credit_code(entities, steward):
    assert len(list(entity_search(user=steward, q="有限", limit=2))) == 2
    assert [e.pk for e in entity_search(user=steward, q=entities[2].credit_code.lower())] == [entities[2].pk]


def test_only_within_jurisdiction(entities, luohu_dispatcher, luohu_community):
    LegalEntity.objects.filter(pk=entities[0].pk).update(community=luohu_community, grid=None)
    assert [e.name for e in entity_search(user=luohu_dispatcher, q="华鹏")] == [NAMES[0]]
    assert [e.name for e in entity_search(user=luohu_dispatcher, q="华鹏科")] == [NAMES[0]]


@pytest.mark.parametrize("q", ["有限", "有限公司"])
def test_common_text_sorts_a_capped_sample_and_says_so(entities, steward, monkeypatch, client, q):
    from django.db import connection
    from django.urls import reverse

    from zhiwang.registry.selectors import entities as entity_selectors

    monkeypatch.setattr(entity_selectors, "NAME_SEARCH_SCAN", 2)
    found = [e.name for e in entity_search(user=steward, q=q)]
    matching = sorted(n for n in NAMES if q in n)  # 4 names contain it
    capped = entity_selectors.entity_search_is_capped(user=steward, q=q)
    if connection.vendor == "postgresql":
        # Two of the matches (as the index finds them), in name order; the page says so.
        assert capped and len(found) == 2 and found == sorted(found) and set(found) <= set(matching)
    else:
        assert not capped and found == matching  # SQLite: LIKE over every match
    assert not entity_selectors.entity_search_is_capped(user=steward, q="华鹏科")  # one match
    client.force_login(steward)
    page = client.get(reverse("registry:home"), {"q": q, "kind": "entity"}).content.decode()
    assert ('data-testid="entity-results-capped"' in page) is capped
