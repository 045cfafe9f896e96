"""Selective auto-dispatch: the decision rule, the precision/coverage curve, the drift check."""

from __future__ import annotations

import math

import pytest

from zhiwang.classifier.ml import (
    AUTO,
    QUEUE,
    decide,
    drift_check,
    precision_coverage_curve,
    threshold_for_precision,
)


def test_decide():
    assert decide([("城乡建设", 0.97), ("环境保护", 0.02)], 0.9) == AUTO
    assert decide([("城乡建设", 0.89)], 0.9) == QUEUE
    assert decide(0.9, 0.9) == AUTO  # the threshold itself dispatches
    assert decide([0.2, 0.95], 0.9) == AUTO
    assert decide([("x", 0.99)], None) == QUEUE  # no threshold: never automatic
    assert decide([], 0.5) == QUEUE
    assert decide(None, 0.5) == QUEUE
    assert decide(float("nan"), 0.5) == QUEUE


PAIRS = [
    (0.99, True),
    (0.95, True),
    (0.95, True),
    (0.9, False),
    (0.8, True),
    (0.7, True),
    (0.6, False),
    (0.5, False),
]


def test_curve_points_take_ties_together():
    curve = precision_coverage_curve(PAIRS)
    assert [p.threshold for p in curve.points] == [0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5]
    tie = curve.points[1]
    assert tie.count == 3 and tie.coverage == 3 / 8 and tie.precision == 1.0
    assert curve.points[2].precision == pytest.approx(3 / 4)
    assert curve.points[-1].coverage == 1.0 and curve.points[-1].precision == pytest.approx(5 / 8)


def test_threshold_for_precision_picks_the_most_coverage():
    assert threshold_for_precision(PAIRS, 1.0) == 0.95
    assert threshold_for_precision(PAIRS, 0.8) == 0.7  # 5 of 6 correct at 0.7
    assert threshold_for_precision(PAIRS, 0.6) == 0.5
    assert threshold_for_precision([(0.9, False)], 0.98) is None
    assert threshold_for_precision([], 0.98) is None


def test_curve_at_a_threshold_and_summary():
    curve = precision_coverage_curve(PAIRS)
    point = curve.at(0.75)
    assert point.coverage == 5 / 8 and point.precision == pytest.approx(4 / 5)
    assert curve.at(None).coverage == 0.0
    assert curve.at(1.5).count == 0
    assert curve.coverage_at_precision(1.0) == 3 / 8
    [row] = curve.summary([1.0])
    assert row == {"target_precision": 1.0, "threshold": 0.95, "coverage": 0.375, "precision": 1.0}


def test_non_finite_confidences_count_as_not_covered():
    curve = precision_coverage_curve([(math.nan, True), (0.9, True)])
    assert curve.points[-1].coverage == 0.5


def test_drift_warns_on_confidence_drop():
    result = drift_check(reference_confidences=[0.9] * 100, recent_confidences=[0.8] * 50)
    assert result.warning
    assert "0.90" in result.explanation and "0.80" in result.explanation


def test_drift_warns_on_agreement_drop_only():
    result = drift_check(
        reference_confidences=[0.9] * 100,
        recent_confidences=[0.89] * 50,
        reference_agreement=[True] * 95 + [False] * 5,
        recent_agreement=[True] * 40 + [False] * 10,
    )
    assert result.warning
    assert len(result.reasons) == 1 and "95%" in result.reasons[0] and "80%" in result.reasons[0]
    assert result.as_dict()["recent_agreement"] == pytest.approx(0.8)


def test_no_drift_and_too_little_data():
    steady = drift_check(reference_confidences=[0.9] * 100, recent_confidences=[0.88] * 50)
    assert not steady.warning and steady.reasons == []
    assert steady.explanation
    few = drift_check(reference_confidences=[0.9] * 100, recent_confidences=[0.1] * 5)
    assert not few.warning and "5" in few.explanation
