"""The prediction-time hash lookup gives exactly the matrix of the feature union."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from zhiwang.classifier.ml import FeatureConfig, lookup, prepare
from zhiwang.classifier.ml.features import build_features
from zhiwang.classifier.ml.lookup import CodeTable

PROBE = ["西湖边的建筑工地噪音扰民", "", "abc 西湖", "𠀀 生僻字 集团", "湖建", "电梯 故障 电梯 故障 电梯"]


@pytest.mark.parametrize("kind", ["lexicon+char", "char"])
def test_fast_transform_equals_feature_union(corpus, kind):
    texts, _labels = corpus
    docs = prepare(texts)
    features = build_features(FeatureConfig(kind=kind), n_docs=len(docs)).fit(docs)
    assert lookup.supports(features)
    probe = prepare(PROBE) + docs[:20]
    expected = features.transform(probe).toarray()
    got = lookup.transform(features, probe)
    assert got.shape == expected.shape
    assert np.allclose(got.toarray(), expected)
    assert lookup.transform(features, []).shape == (0, expected.shape[1])


def test_other_unions_fall_back_to_their_own_transform():
    docs = ["西湖 建筑", "建筑 集团", "西湖 公园"]
    union = FeatureUnion([("word", TfidfVectorizer(token_pattern=r"\S+"))]).fit(docs)
    assert not lookup.supports(union)
    assert np.allclose(lookup.transform(union, docs).toarray(), union.transform(docs).toarray())


def test_code_table_finds_every_code_and_only_those():
    rng = np.random.default_rng(0)
    first = np.unique(rng.integers(1, 1 << 60, 5000))
    second = np.unique(np.concatenate([first[:100], rng.integers(1, 1 << 20, 3000)]))
    table = CodeTable([first, second])
    slots = table.find(first)
    assert (slots >= 0).all()
    assert np.array_equal(table.values[0, slots], np.arange(len(first)))
    both = table.values[1, table.find(first[:100])]
    assert np.array_equal(second[both], first[:100])  # codes in both blocks map to each block's column
    absent = np.setdiff1d(rng.integers(1, 1 << 60, 5000), np.concatenate([first, second]))
    assert (table.find(absent) == -1).all()
    assert (CodeTable([np.zeros(0, np.int64)]).find(first) == -1).all()
