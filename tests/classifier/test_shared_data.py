"""On the real complaint data (skipped when ../shared/data is absent): raw text works on a tokenized model."""

from __future__ import annotations

import csv

import pytest

from zhiwang.classifier.ml import train

pytestmark = pytest.mark.shared_data


def read(path):
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_tokenized_training_predicts_raw_messages(shared_data):
    tokenized = read(shared_data / "complaints" / "labelled_tokenized_train.csv")
    raw = read(shared_data / "complaints" / "labelled_raw_sample.csv")
    sample = tokenized[::8]  # every eighth message: fast, every label present
    model = train([r["text_tokens"] for r in sample], [r["label"] for r in sample], presegmented=True, cv=0)
    assert len(model.labels) == 7
    probe = raw[:120]
    ranked = model.predict([f"{r['title']}\n{r['text']}" for r in probe])
    accuracy = sum(choices[0][0] == r["label"] for choices, r in zip(ranked, probe, strict=True)) / len(probe)
    # the full model reaches ~0.85 on this file; an eighth of the data, raw text, still far above chance (1/7)
    assert accuracy > 0.7
    top3 = sum(
        r["label"] in [label for label, _p in choices] for choices, r in zip(ranked, probe, strict=True)
    )
    assert top3 / len(probe) > 0.9
