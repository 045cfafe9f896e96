"""The fast prediction path gives exactly what the plain one gives.

Raw text goes straight to the feature matrix (``lookup.transform(..., raw=True)``): NFKC through one
table for the batch (``text.nfkc_many``), the masking patterns only where a substring test
says they could match (``text._mask``), punctuation dropped with a table instead of a regex.
Each step is compared here with the plain code it replaces: ``unicodedata.normalize``, every
pattern applied, ``prepare`` + scikit-learn's ``FeatureUnion.transform`` + ``predict_proba``.
"""

from __future__ import annotations

import csv
import random
import re
import unicodedata

import numpy as np
import pytest

from zhiwang.classifier.ml import lookup, text
from zhiwang.classifier.ml.model import MAX_TEXT_CHARS
from zhiwang.classifier.ml.text import nfkc_many, normalize, normalize_many, prepare

EDGE_TEXTS = [
    "",
    "电梯",
    "ＡＢＣ１２３，Ｈｅｌｌｏ！",
    "详见https://example.gov.cn/a?b=1 联系13812345678或0731-88886666，邮箱a.b@mail.cn，身份证43010219900101123X",
    "WWW.Example.COM 与 www.x.cn、FTP://a.b",
    "_X000D_ 与 _x000D_ 与 _x000a_",
    "账号6222020200112233，2018年12月17日，138 1234 5678，+86 139-1234-5678",
    "a" * 45 + " " + "Zx9_.%+#&-" * 5,
    "省略号……和半角片假名ﾊﾟﾋﾟ与韩文ﾡￂ以及组合字符e\u0301和 Å",  # expand or compose: unicodedata's path
    "生僻字𠀀𪚥与代理项\ud800落单",
    "\x00NUL\x00 与制表\t换行\n",
    "①②⑩ ㈱ ㎏ ﬁ ½ ™",
    "!!!   ...",
    "English only, BROKEN street lamp",
]


def _all_patterns(value: str) -> str:
    """The masking step as it was: every pattern applied, no substring test first."""
    value = text._EXCEL_ESCAPE.sub(" ", value)
    value = text._URL.sub(" urltoken ", value)
    value = text._EMAIL.sub(" emailtoken ", value)
    value = text._ID_NUMBER.sub(" idtoken ", value)
    value = text._PHONE.sub(" phonetoken ", value)
    value = text._LONG_NUMBER.sub(" numtoken ", value)
    value = text._LONG_LATIN.sub(" longtoken ", value)
    return value.lower()


def _random_texts(count: int, seed: int = 3) -> list[str]:
    """Short texts over characters that exercise every pattern and NFKC case."""
    pool = (
        "小区电梯故障，物业！？：；（）、。“”…—·"
        "ＡＢＷｗ．＠：／１２３４０"
        "abcwWxX_.:/@%+#&- 0123456789"
        "\u3000\u00a0ﾊﾟﾡￂe\u0301Åﬁ①𠀀"
    )
    rng = random.Random(seed)
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, 80))) for _ in range(count)]


def test_batch_nfkc_equals_unicodedata():
    texts = EDGE_TEXTS + _random_texts(3000)
    assert nfkc_many(texts) == [unicodedata.normalize("NFKC", t) for t in texts]
    assert nfkc_many([]) == []
    assert nfkc_many(["ＡＢ"]) == ["AB"]


def test_simple_characters_never_compose_with_a_neighbour():
    """The premise of the NFKC table: no simple image is the second part of a canonical composition."""
    table = text._simple_nfkc_table()
    second = set()
    for point in range(0x110000):
        decomposition = unicodedata.decomposition(chr(point))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                second.add(int(parts[1], 16))
    second |= set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul vowels and trailing consonants
    images = set(table[table >= 0].tolist())
    assert not images & second
    assert all(unicodedata.combining(chr(i)) == 0 for i in images)
    simple = np.flatnonzero(table >= 0)
    assert all(unicodedata.normalize("NFKC", chr(p)) == chr(table[p]) for p in simple[::17])


def test_masking_tries_a_pattern_only_where_it_can_match():
    texts = [unicodedata.normalize("NFKC", t) for t in EDGE_TEXTS + _random_texts(3000, seed=5)]
    assert [text._mask(t) for t in texts] == [_all_patterns(t) for t in texts]
    # the URL test reads "www." case-insensitively: nothing but w and W matches w ignoring case
    assert [chr(p) for p in range(0x110000) if re.fullmatch("w", chr(p), re.IGNORECASE)] == ["W", "w"]


def test_normalize_many_equals_normalize():
    texts = [*EDGE_TEXTS, None, 12345678, *_random_texts(500)]
    assert normalize_many(texts) == [normalize(t) for t in texts]


def test_word_character_table_follows_the_preparation_regex():
    table = lookup._word_characters()
    for point in list(range(0x10000)) + list(range(0x10000, 0x110000, 97)):
        assert table[point] == bool(re.fullmatch(r"[^\W_]", chr(point))), hex(point)


@pytest.mark.parametrize("kind", ["lexicon+char", "char"])
def test_raw_texts_give_the_matrix_of_prepare_and_the_feature_union(corpus, kind):
    from zhiwang.classifier.ml import FeatureConfig
    from zhiwang.classifier.ml.features import build_features

    texts, _labels = corpus
    docs = prepare(texts)
    features = build_features(FeatureConfig(kind=kind), n_docs=len(docs)).fit(docs)
    probe = EDGE_TEXTS + texts[:30] + _random_texts(200)
    expected = features.transform(prepare(probe, words=False))
    got = lookup.transform(features, probe, raw=True)
    assert got.shape == expected.shape
    assert abs(got - expected).max() < 1e-12
    assert lookup.transform(features, [], raw=True).shape == (0, expected.shape[1])


def _plain_score(model, texts):
    """Probabilities and evidence the plain way: token strings, scikit-learn's transform and predict_proba."""
    from zhiwang.classifier.ml.model import _informative_columns

    features = model.pipeline.steps[0][1]
    prepared = model.prepare(texts)
    x = features.transform(prepared).tocsr()
    proba = model.pipeline.steps[-1][1].predict_proba(x)
    x.sum_duplicates()
    mask = _informative_columns(features)
    evidence = np.array(
        [int(mask[x.indices[x.indptr[i] : x.indptr[i + 1]]].sum()) for i in range(x.shape[0])]
    )
    proba[evidence == 0] = 1.0 / len(model.labels)
    return proba, evidence


def _assert_same_predictions(model, texts):
    proba, evidence = model.score(texts)
    plain_proba, plain_evidence = _plain_score(model, texts)
    assert np.abs(proba - plain_proba).max() < 1e-9
    assert (proba.argmax(axis=1) == plain_proba.argmax(axis=1)).all()
    assert np.array_equal(evidence, plain_evidence)
    one_by_one = np.vstack([model.score([t])[0] for t in texts[:40]])
    assert np.abs(one_by_one - proba[:40]).max() < 1e-9


def test_fast_scores_equal_the_plain_pipeline_in_batches_and_one_by_one(trained, corpus, monkeypatch):
    monkeypatch.setattr(lookup, "_PREDICTION_CHARS", 5000)
    texts = EDGE_TEXTS + corpus[0] + _random_texts(300) + ["电梯故障" * (MAX_TEXT_CHARS // 3)]
    # several batches of lookup.prediction_batches: the stacking keeps the order
    many = [f"{t}，第{i}次反映" for i, t in enumerate(corpus[0] * 3)]
    assert len(lookup.prediction_batches(many)) > 1
    _assert_same_predictions(trained, texts + many)


@pytest.mark.shared_data
def test_fast_scores_equal_the_plain_pipeline_on_real_complaints(shared_data):
    from zhiwang.classifier.ml import train

    with open(shared_data / "complaints" / "labelled_tokenized_train.csv", encoding="utf-8") as handle:
        tokenized = list(csv.DictReader(handle))
    with open(shared_data / "complaints" / "labelled_raw_sample.csv", encoding="utf-8") as handle:
        raw = [f"{r['title']}\n{r['text']}" for r in csv.DictReader(handle)]
    sample = tokenized[::8]
    model = train([r["text_tokens"] for r in sample], [r["label"] for r in sample], presegmented=True, cv=0)
    unsegmented = [r["text_tokens"].replace(" ", "") for r in tokenized[1::3]]  # ~2,100 texts as raw text
    _assert_same_predictions(model, raw + unsegmented)
