"""The numpy character n-gram vectorizer matches scikit-learn's own char analyzer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from zhiwang.classifier.ml.features import CharNgramVectorizer, FeatureConfig, decode_ngram

DOCS = ["市 西湖 建筑", "建筑 集团 西湖", "abc 市", "西湖 西湖", "𠀀 生僻字"]


@pytest.mark.parametrize("min_df", [1, 2])
@pytest.mark.parametrize("ngram_range", [(1, 3), (1, 2), (2, 3)])
def test_same_features_and_weights_as_sklearn(min_df, ngram_range):
    ours = CharNgramVectorizer(ngram_range=ngram_range, min_df=min_df).fit(DOCS)
    reference = TfidfVectorizer(
        analyzer="char",
        ngram_range=ngram_range,
        min_df=min_df,
        sublinear_tf=True,
        lowercase=False,
        preprocessor=lambda s: s.replace(" ", ""),
    ).fit(DOCS)
    names = list(ours.get_feature_names_out())
    assert sorted(names) == sorted(reference.vocabulary_)
    probe = [*DOCS, "西湖集团", ""]
    expected = reference.transform(probe).toarray()[:, [reference.vocabulary_[n] for n in names]]
    assert np.allclose(ours.transform(probe).toarray(), expected)


def test_empty_batch_and_unknown_characters():
    vectorizer = CharNgramVectorizer(min_df=1).fit(["ab"])
    assert vectorizer.transform([]).shape == (0, 3)
    assert vectorizer.transform(["zz"]).nnz == 0


def test_decode_ngram_roundtrip():
    vectorizer = CharNgramVectorizer(min_df=1).fit(["西湖"])
    assert set(vectorizer.get_feature_names_out()) == {"西", "湖", "西湖"}
    assert decode_ngram(ord("西")) == "西"


def test_feature_config_validation_and_roundtrip():
    config = FeatureConfig(kind="char", char_ngram_range=(1, 2))
    assert not config.uses_words
    assert FeatureConfig.from_dict(config.as_dict()) == config
    with pytest.raises(ValueError):
        FeatureConfig(kind="bert")
    with pytest.raises(ValueError):
        FeatureConfig(char_ngram_range=(1, 5))
