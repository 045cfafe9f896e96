"""Held-back evaluation, candidate vs current comparison, and drift against a model's own figures."""

from __future__ import annotations

import numpy as np
import pytest

from zhiwang.classifier import selectors, services
from zhiwang.classifier.ml import train
from zhiwang.classifier.ml.evaluation import compare, evaluate, evaluate_proba
from zhiwang.classifier.models import ClassifierModel, ModelStatus
from zhiwang.core.errors import ServiceError

from .conftest import make_corpus


@pytest.fixture(scope="module")
def held_back():
    return make_corpus(per_template=3, seed=99)


@pytest.fixture(scope="module")
def weak(corpus):
    """A model trained on a quarter of the corpus with shuffled labels: clearly worse."""
    texts, labels = corpus
    rng = np.random.default_rng(3)
    shuffled = list(rng.permutation(labels))
    return train(texts[::2], shuffled[::2], cv=0)


def test_evaluate_gives_figures_and_the_threshold_for_precision(trained, held_back):
    texts, labels = held_back
    result = evaluate(trained, texts, labels, target_precision=0.9)
    assert result.count == len(texts)
    assert result.accuracy > 0.8 and result.macro_f1 > 0.8
    assert result.threshold is not None
    point = result.curve.at(result.threshold)
    assert point.precision >= 0.9 and point.coverage == result.coverage_at_target
    assert result.unknown_labels == {}
    assert 0 < result.mean_confidence <= 1
    assert result.as_dict()["curve"][0]["target_precision"] == 0.9


def test_labels_the_model_never_saw_count_as_errors_and_are_listed(trained):
    texts = ["小区电梯故障频发，物业维修不及时", "医院挂号难，排队三小时"]
    result = evaluate(trained, texts, ["城乡建设", "卫生计生"])
    assert result.unknown_labels == {"卫生计生": 1}
    assert result.accuracy == 0.5


def test_rows_without_label_are_skipped_and_mismatches_refused(trained):
    result = evaluate(trained, ["小区电梯故障", "学校乱收费", "x"], ["城乡建设", "教育文体", ""])
    assert result.count == 2
    with pytest.raises(ServiceError) as exc:
        evaluate(trained, ["a"], [])
    assert exc.value.code == "classifier.length_mismatch"
    with pytest.raises(ServiceError) as exc:
        evaluate(trained, ["a"], [None])
    assert exc.value.code == "classifier.no_labelled_data"


def test_evaluate_proba_uses_the_models_threshold():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.55, 0.45]])
    result = evaluate_proba(proba, ["a", "b"], ["a", "b", "b", "b"], model_threshold=0.7)
    assert result.coverage_at_model_threshold == 0.5 and result.precision_at_model_threshold == 0.5
    assert result.threshold == 0.9 and result.coverage_at_target == 0.25  # 0.8 is already a mistake


def test_compare_prefers_the_better_model(trained, weak, held_back):
    texts, labels = held_back
    better = compare(trained, weak, texts, labels)
    assert better.recommend
    assert better.candidate.macro_f1 > better.current.macro_f1
    worse = compare(weak, trained, texts, labels)
    assert not worse.recommend
    assert len(worse.reasons) == 2
    same = compare(trained, trained, texts, labels)
    assert not same.recommend  # no better: keep what is in use
    alone = compare(trained, None, texts, labels)
    assert alone.recommend and alone.current is None


@pytest.mark.django_db
def test_model_compare_records_held_back_figures(trained, weak, held_back, tmp_path, model_dir):
    texts, labels = held_back
    current = services.model_promote(
        model=services.model_register(name="category", directory=weak.save(tmp_path / "weak"))
    )
    candidate = services.model_register(name="category", directory=trained.save(tmp_path / "good"))
    comparison = services.model_compare(candidate=candidate, texts=texts, labels=labels)
    assert comparison.recommend
    candidate.refresh_from_db()
    current.refresh_from_db()
    assert candidate.metrics["held_back"]["count"] == len(texts)
    assert candidate.metrics["held_back"]["macro_f1"] == comparison.candidate.macro_f1
    assert current.metrics["held_back"]["macro_f1"] == comparison.current.macro_f1
    assert current.status == ModelStatus.ACTIVE  # comparing never promotes

    other = services.model_register(name="urgency", directory=trained.save(tmp_path / "urgency"))
    with pytest.raises(ServiceError) as exc:
        services.model_compare(candidate=other, current=current, texts=texts, labels=labels)
    assert exc.value.code == "classifier.name_mismatch"


@pytest.mark.django_db
def test_model_drift_against_the_models_reference_figures():
    model = ClassifierModel.objects.create(
        name="category", version=1, path="x", metrics={"mean_confidence": 0.9, "accuracy": 0.92}
    )
    steady = selectors.model_drift(
        model, recent_confidences=[0.89] * 40, recent_agreement=[True] * 37 + [False] * 3
    )
    assert not steady.warning
    drifted = selectors.model_drift(
        model, recent_confidences=[0.7] * 40, recent_agreement=[True] * 30 + [False] * 10
    )
    assert drifted.warning and len(drifted.reasons) == 2
    assert drifted.reference_confidence == 0.9 and drifted.recent_agreement == 0.75
    # a held-back measurement, when there is one, is the reference
    model.metrics = {**model.metrics, "held_back": {"mean_confidence": 0.72, "accuracy": 0.76}}
    assert not selectors.model_drift(
        model, recent_confidences=[0.7] * 40, recent_agreement=[True] * 30 + [False] * 10
    ).warning
    few = selectors.model_drift(model, recent_confidences=[0.1] * 3)
    assert not few.warning and "3" in few.explanation
