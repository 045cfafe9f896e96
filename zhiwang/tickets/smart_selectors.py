"""Reads for the smart-dispatch administration page: the curve, the models, the drift, the runs.

Models are not scoped by jurisdiction (every unit shares them); the page itself is for
administrators only. The curve is measured with the *active* model on the texts of the
last N tickets people decided the category of, against the category they decided, and
only on tickets it was not trained on: for a model retrained here, those decided after
its training data were collected plus the ones held back from its training
(``metrics["training_cutoff"]``). A model trained elsewhere (a file, the demo) never saw
the platform's corrections. Texts the platform always queues (too few known words) are
never counted as automatic, as in production.

Models and runs come with what the page shows of them in words, in the reader's language
(``label_names`` for the measurement note, a run's ``stage_label`` and ``failure_message``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from zhiwang.classifier import selectors as classifier_selectors
from zhiwang.classifier.ml.selective import PrecisionCoverageCurve, precision_coverage_curve
from zhiwang.classifier.models import ClassifierModel
from zhiwang.tickets.classify import MODEL_NAME, leaf_by_code, model_suggestions
from zhiwang.tickets.models import TrainingRun
from zhiwang.tickets.services.smart import (
    corrected_rows,
    recent_agreement,
    recent_categories,
    recent_confidences,
    run_failure_message,
    stage_label,
)

#: Thresholds shown in the table (the chart shows every distinct confidence).
TABLE_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
#: Points of the chart at most (evenly thinned; the table rows are exact).
CHART_POINTS = 200
#: Below this many corrected tickets the figures swing with every ticket: the page says so.
MIN_RELIABLE_TICKETS = 30


@dataclass
class CurveRow:
    threshold: float
    coverage: float
    precision: float
    count: int
    current: bool = False

    @property
    def coverage_percent(self) -> float:
        return round(100 * self.coverage, 1)

    @property
    def precision_percent(self) -> float | None:
        """None when no ticket reaches the threshold: a precision of nothing is not 100 % (nor 0 %)."""
        if not self.count:
            return None
        return round(100 * self.precision, 1)

    @property
    def coverage_text(self) -> str:
        """``"86.9%"``: written as the dashboards write shares (no space before the sign)."""
        return _percent(self.coverage_percent)

    @property
    def precision_text(self) -> str:
        """``"98.0%"``, or "—" when no ticket reaches the threshold."""
        return "—" if self.precision_percent is None else _percent(self.precision_percent)


def _percent(value: float) -> str:
    return f"{value:.1f}%"


#: What a curve was measured on (``CurveView.basis``).
BASIS_UNSEEN = "unseen"  # a model retrained here: corrections after its cutoff and its held-back ones
BASIS_ALL = "all"  # a model trained elsewhere (a file, the demo): every correction is new to it


@dataclass
class CurveView:
    """Precision and coverage of the active model on the last ``total`` corrected tickets it did not train on.

    ``basis`` says which: ``BASIS_UNSEEN`` (``after_cutoff`` decided after its training data
    were collected at ``cutoff_at``, ``held_back`` held back from its training) or
    ``BASIS_ALL`` (trained elsewhere). ``queued_short``: texts always queued (too few known
    words), never counted as automatic.
    """

    model: ClassifierModel | None
    total: int
    accuracy: float | None
    rows: list[CurveRow] = field(default_factory=list)
    at_threshold: CurveRow | None = None
    chart: dict = field(default_factory=dict)
    curve: PrecisionCoverageCurve | None = None
    basis: str = BASIS_ALL
    after_cutoff: int = 0
    held_back: int = 0
    cutoff_at: str | None = None
    queued_short: int = 0

    @property
    def too_few(self) -> bool:
        """Measured on fewer than ``MIN_RELIABLE_TICKETS`` corrected tickets: a rough guide only."""
        return 0 < self.total < MIN_RELIABLE_TICKETS

    @property
    def min_reliable(self) -> int:
        return MIN_RELIABLE_TICKETS


def _unseen_examples(model: ClassifierModel, last: int) -> tuple[list[tuple[int, int, str, str]], dict]:
    """The newest ``last`` corrections the model did not train on, and how they were chosen."""
    cutoff = (model.metrics or {}).get("training_cutoff")
    if not isinstance(cutoff, dict):
        return corrected_rows(limit=last), {"basis": BASIS_ALL}
    after = cutoff.get("correction")
    held = {int(pk) for pk in cutoff.get("held_back") or []}
    rows = corrected_rows(limit=last, after=after if after is not None else 0, including=held)
    in_held = sum(1 for pk, *_rest in rows if pk in held)
    return rows, {
        "basis": BASIS_UNSEEN,
        "after_cutoff": len(rows) - in_held,
        "held_back": in_held,
        "cutoff_at": cutoff.get("at"),
    }


def _named(model: ClassifierModel | None) -> ClassifierModel | None:
    """``model`` with ``label_names`` set (its category codes' names), for its measurement note."""
    if model is not None:
        names = {}
        for label in model.labels or []:
            leaf = leaf_by_code(label)
            if leaf is not None:
                names[label] = leaf.name
        model.label_names = names
    return model


def classifier_curve(*, last: int = 500) -> CurveView:
    """The precision/coverage curve of the active model on the last ``last`` corrected tickets it did not train on."""
    model = _named(classifier_selectors.active_model(MODEL_NAME))
    if model is None:
        return CurveView(model=None, total=0, accuracy=None)
    examples, basis = _unseen_examples(model, last)
    suggestions = model_suggestions([text for _pk, _t, text, _c in examples], top_k=1) if examples else []
    # as in production: a blind text (no choices) is no answer, and neither it nor a text with too
    # few known words is ever automatic (-inf: below every threshold)
    pairs = [
        (-math.inf if s.blind or s.thin else s.confidence, s.label == code)
        for s, (_pk, _t, _text, code) in zip(suggestions, examples, strict=False)
    ]
    queued_short = sum(1 for s in suggestions if s.blind or s.thin)
    if not pairs:
        return CurveView(model=model, total=0, accuracy=None, **basis)
    curve = precision_coverage_curve(pairs)
    rows = []
    for threshold in TABLE_THRESHOLDS:
        point = curve.at(threshold)
        rows.append(CurveRow(threshold, point.coverage, point.precision, point.count))
    at = None
    if model.threshold is not None:
        point = curve.at(model.threshold)
        at = CurveRow(model.threshold, point.coverage, point.precision, point.count, current=True)
    step = max(1, len(curve.points) // CHART_POINTS)
    points = curve.points[::step]
    chart = {
        "thresholds": [round(p.threshold, 4) for p in points],
        "coverage": [round(100 * p.coverage, 2) for p in points],
        "precision": [round(100 * p.precision, 2) for p in points],
        "current": model.threshold,
    }
    accuracy = sum(ok for _c, ok in pairs) / len(pairs)
    return CurveView(
        model=model,
        total=len(pairs),
        accuracy=accuracy,
        rows=rows,
        at_threshold=at,
        chart=chart,
        curve=curve,
        queued_short=queued_short,
        **basis,
    )


def classifier_models() -> list[ClassifierModel]:
    """The category model's versions, newest first, with their held-back figures when measured.

    Each carries ``held_back_measured_at``: when the held-back figures were measured, as an aware
    datetime (the metrics keep a UTC ISO string; pages show it in local time), or None.
    """
    models = list(classifier_selectors.model_list(name=MODEL_NAME).prefetch_related("activations"))
    for model in models:
        _named(model)
        held_back = (model.metrics or {}).get("held_back")
        measured = held_back.get("measured_at") if isinstance(held_back, dict) else None
        model.held_back_measured_at = _aware(measured)
    return models


def _aware(value) -> datetime | None:
    """An ISO 8601 string as an aware datetime (UTC when it names no offset); None if it is none."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def classifier_drift():
    """The active model's drift status now (None with no active model)."""
    model = classifier_selectors.active_model(MODEL_NAME)
    if model is None:
        return None
    agreement = recent_agreement(model)
    return classifier_selectors.model_drift(
        model,
        recent_confidences=recent_confidences(model),
        recent_agreement=agreement or None,
        recent_categories=recent_categories(model),
    )


def _shown(run: TrainingRun | None) -> TrainingRun | None:
    """``run`` with ``stage_label`` and ``failure_message`` in the active language (the row keeps codes)."""
    if run is not None:
        run.stage_label = stage_label(run.stage)
        run.failure_message = run_failure_message(run)
        _named(run.model)
    return run


def training_runs(*, limit: int = 5) -> list[TrainingRun]:
    return [_shown(run) for run in TrainingRun.objects.select_related("model", "requested_by")[:limit]]


def training_run_get(run_id: int) -> TrainingRun | None:
    return _shown(TrainingRun.objects.select_related("model").filter(pk=run_id).first())
