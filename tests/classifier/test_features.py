"""The numpy character n-gram vectorizer matches scikit-learn's own char analyzer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from zhiwang.classifier.ml.features import CharNgramVectorizer, FeatureConfig

DOCS = ["市 西湖 建筑", "建筑 集团 西湖", "abc 市", "西湖 西湖", "𠀀 生僻字"]


@pytest.mark.parametrize("min_df", [1, 2])
@pytest.mark.parametrize("ngram_range", [(1, 3), (1, 2), (2, 3), (1, 4)])
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
    assert vectorizer.decode(int(vectorizer.vocabulary_[-1])) == "西湖"
    assert list(vectorizer.multichar_columns()) == [2]


def test_feature_config_validation_and_roundtrip():
    config = FeatureConfig(kind="char", char_ngram_range=(1, 2))
    assert not config.uses_words
    assert FeatureConfig.from_dict(config.as_dict()) == config
    with pytest.raises(ValueError):
        FeatureConfig(kind="bert")
    with pytest.raises(ValueError):
        FeatureConfig(char_ngram_range=(1, 5))
    assert not FeatureConfig(kind="lexicon+char").uses_words
    assert FeatureConfig(kind="lexicon+char").trains_on_words


def test_lexicon_counts_training_words_inside_unsegmented_text():
    docs = ["西湖 建筑 集团", "建筑 工地", "西湖 公园"]
    lexicon = CharNgramVectorizer((1, 4), min_df=2, tokens_as_vocabulary=True).fit(docs)
    assert sorted(lexicon.get_feature_names_out()) == ["建筑", "西湖"]  # words in two documents
    counts = lexicon._counts(["西湖边的建筑，西湖", "湖建"])
    names = list(lexicon.get_feature_names_out())
    assert counts[0, names.index("西湖")] == 2 and counts[0, names.index("建筑")] == 1
    assert counts[1].nnz == 0  # "湖建" spans two words: not a word of the lexicon
    assert lexicon.transform(["从未见过"]).nnz == 0  # unknown characters give nothing
