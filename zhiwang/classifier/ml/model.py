"""A trained classifier: predict ranked labels with calibrated probabilities, save, load.

A model directory holds two files:

* ``model.joblib``: the fitted scikit-learn pipeline (features + calibrated classifier);
* ``metadata.json``: format version, creation time, labels, training size, metrics,
  feature configuration and the library versions it was built with.

``FORMAT_VERSION`` changes whenever a saved model would no longer load or predict the
same way (a renamed module-level function, a changed text pipeline); loading a model
of another format version fails with a clear :class:`~zhiwang.core.errors.ServiceError`
instead of predicting nonsense. Load only model directories you trust: the model file
is a pickle.
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.utils.translation import gettext as _
from scipy.special import expit

from zhiwang.classifier.ml import lookup
from zhiwang.classifier.ml.features import FeatureConfig
from zhiwang.classifier.ml.selective import MIN_EVIDENCE, QUEUE, decide
from zhiwang.classifier.ml.text import prepare_parallel
from zhiwang.core.errors import ServiceError

FORMAT_VERSION = 2  # 2: character alphabet of the training data, lexicon features
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
#: Longer texts are cut here: the first 20,000 characters decide, and time stays bounded.
MAX_TEXT_CHARS = 20_000
#: Rounding slack when recognising the uniform ("blind") answer.
BLIND_TOLERANCE = 1e-9

Suggestion = tuple[str, float]
#: Libraries whose major.minor version must match the one a model was built with: the model
#: file is their pickled objects, which another version may read wrongly or not at all.
CHECKED_LIBRARIES = {"sklearn": "scikit-learn", "numpy": "numpy"}


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one text: ranked choices, the evidence it had and the decision.

    ``evidence`` is how many distinct known words (see :meth:`TrainedModel.score`) the text
    has: 0 is *blind* (the uniform answer, no suggestion at all); below
    :data:`~zhiwang.classifier.ml.selective.MIN_EVIDENCE` it is *thin*: the choices are
    shown, but the text is always queued.
    """

    choices: list[Suggestion]
    evidence: int
    decision: str

    @property
    def blind(self) -> bool:
        return self.evidence == 0

    @property
    def thin(self) -> bool:
        return 0 < self.evidence < MIN_EVIDENCE


@dataclass
class TrainedModel:
    """A fitted pipeline with its labels and metadata; see the module docstring for the files."""

    pipeline: object  # sklearn Pipeline(features, classifier) reading prepared token strings
    labels: list[str]
    feature_config: FeatureConfig
    metadata: dict = field(default_factory=dict)

    # --- prediction ------------------------------------------------------------

    def prepare(
        self, texts: Sequence[object], *, presegmented: bool | None = None, n_jobs: int = 1
    ) -> list[str]:
        """Texts in the token-string form the pipeline reads (see ``ml.text``)."""
        clipped = ["" if t is None else str(t)[:MAX_TEXT_CHARS] for t in texts]
        return prepare_parallel(
            clipped, presegmented=presegmented, words=self.feature_config.uses_words, n_jobs=n_jobs
        )

    def score_prepared(self, prepared: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(probability matrix, evidence per text) for prepared texts.

        The matrix has a row per text and a column per ``self.labels``. The evidence of a
        text is the number of distinct known informative features in it: known lexicon words
        of two characters or more (the default model), known words (word models), or known
        character pairs (character-only models). A text without any (empty, punctuation
        only, English or another language the training data never had) gets the uniform
        distribution: the model knows nothing about it, so it must not look confident.
        """
        if len(prepared) == 0:
            return np.zeros((0, len(self.labels))), np.zeros(0, dtype=np.int64)
        features = self.pipeline.steps[0][1]
        # the same matrix as features.transform: one n-gram pass and one hash lookup for all blocks
        return self._score_batches(
            [lookup.transform(features, batch) for batch in lookup.prediction_batches(list(prepared))]
        )

    def _score_batches(self, matrices: list) -> tuple[np.ndarray, np.ndarray]:
        """(probability matrix, evidence) of feature matrices, stacked in order."""
        features, classifier = self.pipeline.steps[0][1], self.pipeline.steps[-1][1]
        probas, evidences = [], []
        for x in matrices:
            proba = _calibrated_proba(classifier, x)  # columns follow self.labels (trained on indices)
            evidence = _evidence(features, x)
            blind = evidence == 0
            if blind.any():
                proba[blind] = 1.0 / len(self.labels)
            probas.append(proba)
            evidences.append(evidence)
        if len(probas) == 1:
            return probas[0], evidences[0]
        return np.vstack(probas), np.concatenate(evidences)

    def predict_proba_prepared(self, prepared: Sequence[str]) -> np.ndarray:
        """Probability matrix (rows: texts, columns: ``self.labels``) for prepared texts."""
        return self.score_prepared(prepared)[0]

    def score(
        self, texts: Sequence[object], *, presegmented: bool | None = None, n_jobs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probability matrix, evidence per text) for raw or pre-segmented texts.

        With ``n_jobs > 1`` a large batch is split over forked worker processes, each doing
        the whole work (preparation, features, classifier) for its share.
        """
        if n_jobs > 1 and len(texts) >= _PARALLEL_MIN:
            parts = _predict_forked(self, list(texts), presegmented, n_jobs)
            if parts is not None:
                return np.vstack([p for p, _e in parts]), np.concatenate([e for _p, e in parts])
        features = self.pipeline.steps[0][1]
        if self.feature_config.uses_words or not lookup.supports(features) or len(texts) == 0:
            return self.score_prepared(self.prepare(texts, presegmented=presegmented))
        # character models: raw text to features without building the token strings, in batches
        # small enough that the arrays of one stay in the CPU caches
        clipped = ["" if t is None else str(t)[:MAX_TEXT_CHARS] for t in texts]
        return self._score_batches(
            [lookup.transform(features, batch, raw=True) for batch in lookup.prediction_batches(clipped)]
        )

    def predict_proba(
        self, texts: Sequence[object], *, presegmented: bool | None = None, n_jobs: int = 1
    ) -> np.ndarray:
        """Probability matrix for raw or pre-segmented texts (see :meth:`score`)."""
        return self.score(texts, presegmented=presegmented, n_jobs=n_jobs)[0]

    def rank(self, proba: np.ndarray, top_k: int = 3) -> list[list[Suggestion]]:
        """Ranked ``(label, probability)`` lists from a probability matrix."""
        top_k = max(1, min(int(top_k), len(self.labels)))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :top_k]
        return [[(self.labels[j], float(row[j])) for j in idx] for row, idx in zip(proba, order, strict=True)]

    def predict(
        self, texts: Sequence[object], top_k: int = 3, *, presegmented: bool | None = None, n_jobs: int = 1
    ) -> list[list[Suggestion]]:
        """For each text, the ``top_k`` labels with their calibrated probabilities, best first."""
        return self.rank(self.predict_proba(texts, presegmented=presegmented, n_jobs=n_jobs), top_k)

    def predictions(
        self,
        texts: Sequence[object],
        *,
        threshold: float | None,
        top_k: int = 3,
        presegmented: bool | None = None,
        n_jobs: int = 1,
    ) -> list[Prediction]:
        """For each text its choices, evidence and dispatch decision at ``threshold``.

        The one place a decision is made (the platform's ``suggest``, ``classify predict``):
        ``auto`` only when the top probability reaches ``threshold`` (None: never) *and* the
        text has at least ``MIN_EVIDENCE`` known words; a blind text has no choices.
        """
        proba, evidence = self.score(texts, presegmented=presegmented, n_jobs=n_jobs)
        out = []
        for choices, count in zip(self.rank(proba, top_k), evidence, strict=True):
            count = int(count)
            if count == 0:
                out.append(Prediction(choices=[], evidence=0, decision=QUEUE))
            else:
                out.append(Prediction(choices, count, decide(choices, threshold, evidence=count)))
        return out

    def is_blind(self, suggestions: Sequence[Suggestion]) -> bool:
        """True when a ranked list is the uniform answer: the model found no evidence in the text.

        That is what :meth:`predict_proba_prepared` gives a text without any known word or
        character pair (punctuation, digits, English, …). It is no suggestion at all: its
        "top" label is merely the first in the label order.
        """
        return bool(suggestions) and float(suggestions[0][1]) <= 1.0 / len(self.labels) + BLIND_TOLERANCE

    @property
    def threshold(self) -> float | None:
        """The auto-dispatch threshold measured at training time (98 % precision), if any."""
        return (self.metadata.get("metrics") or {}).get("threshold")

    def decide(self, suggestions: Sequence[Suggestion], threshold: float | None = None) -> str:
        """``"auto"`` or ``"queue"`` for one ranked suggestion list (default: the stored threshold)."""
        return decide(suggestions, self.threshold if threshold is None else threshold)

    def explain(
        self, text: object, *, top: int = 8, presegmented: bool | None = None
    ) -> list[tuple[str, float]]:
        """The features of ``text`` that pushed hardest towards its top label (feature, weight).

        Words are shown as they are; character n-grams with a ``char:`` prefix. Only for
        linear classifiers (the default); returns ``[]`` otherwise.
        """
        proba = self.predict_proba([text], presegmented=presegmented)[0]
        features, classifier = self.pipeline.steps[0][1], self.pipeline.steps[-1][1]
        coef = _linear_coef(classifier)
        if coef is None:
            return []
        x = features.transform(self.prepare([text], presegmented=presegmented)).tocsr()
        label_index = int(np.argmax(proba))
        row = coef[label_index] if coef.shape[0] > 1 else coef[0] * (1 if label_index == 1 else -1)
        contributions = x.data * row[x.indices]
        names = features.get_feature_names_out()
        order = np.argsort(-contributions)[:top]
        result = []
        for i in order:
            if contributions[i] <= 0:
                break
            name = str(names[x.indices[i]])
            block, _sep, feature = name.partition("__")
            result.append(
                (feature if block in ("word", "lexicon") else f"char:{feature}", float(contributions[i]))
            )
        return result

    # --- persistence -----------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the model directory (created if needed; files replaced atomically)."""
        import joblib

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        metadata = dict(self.metadata)
        metadata.update(
            format_version=FORMAT_VERSION,
            labels=list(self.labels),
            feature_config=self.feature_config.as_dict(),
        )
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as handle:
            joblib.dump({"pipeline": self.pipeline, "labels": list(self.labels)}, handle, compress=3)
        os.replace(handle.name, directory / MODEL_FILE)
        tmp = directory / (METADATA_FILE + ".tmp")
        tmp.write_text(
            json.dumps(metadata, ensure_ascii=False, indent=2, default=_json_default), encoding="utf-8"
        )
        os.replace(tmp, directory / METADATA_FILE)
        self.metadata = metadata
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TrainedModel:
        """Read a model directory written by :meth:`save`; refuse other format versions."""
        import joblib

        directory = Path(directory)
        metadata = read_metadata(directory)
        version = metadata.get("format_version")
        if version != FORMAT_VERSION:
            raise ServiceError(
                "classifier.format_version",
                _(
                    "The model in %(path)s has format version %(found)s; this Zhiwang reads version "
                    "%(expected)s. Retrain the model with this version."
                )
                % {"path": directory, "found": version, "expected": FORMAT_VERSION},
            )
        check_library_versions(directory, metadata)
        try:
            payload = joblib.load(directory / MODEL_FILE)
        except FileNotFoundError:
            raise ServiceError(
                "classifier.model_missing",
                _("The model directory %(path)s has no %(file)s.") % {"path": directory, "file": MODEL_FILE},
            ) from None
        except Exception as exc:  # a truncated or foreign pickle: say so, do not crash
            raise _unreadable(directory, exc) from exc
        try:
            # anything but what save() wrote (another pickle, a hand-edited file) fails here,
            # as a clear error rather than an AttributeError or KeyError deep in a request
            pipeline, labels = payload["pipeline"], [str(label) for label in payload["labels"]]
            steps = pipeline.steps
            if len(labels) < 2 or len(steps) < 2 or not hasattr(steps[-1][1], "predict_proba"):
                raise ValueError("not a classifier pipeline with two labels or more")
            model = cls(
                pipeline=pipeline,
                labels=labels,
                feature_config=FeatureConfig.from_dict(metadata.get("feature_config") or {}),
                metadata=metadata,
            )
            lookup.warm(steps[0][1])  # the first suggestion should not pay for it
            model.score_prepared(["检查"])  # one prediction: the pieces fit together
        except Exception as exc:
            raise _unreadable(directory, exc) from exc
        return model


def _unreadable(directory: Path, error: object) -> ServiceError:
    return ServiceError(
        "classifier.model_unreadable",
        _("The model file in %(path)s cannot be read: %(error)s")
        % {"path": directory, "error": f"{type(error).__name__}: {error}"},
    )


def _major_minor(version: object) -> str:
    return ".".join(str(version).split(".")[:2])


def check_library_versions(directory: str | os.PathLike, metadata: dict) -> None:
    """Refuse a model built with another major.minor version of scikit-learn or numpy.

    Their objects are what the model file holds; another version may unpickle them into
    something that predicts differently, or not at all. A model without the record (made
    by hand) is not checked.
    """
    import sklearn

    recorded = metadata.get("versions")
    if not isinstance(recorded, dict):
        return
    running = {"sklearn": sklearn.__version__, "numpy": np.__version__}
    different = [
        (title, str(recorded[key]), running[key])
        for key, title in CHECKED_LIBRARIES.items()
        if recorded.get(key) and _major_minor(recorded[key]) != _major_minor(running[key])
    ]
    if different:
        raise ServiceError(
            "classifier.library_versions",
            _(
                "The model in %(path)s was built with %(built)s; this Zhiwang runs %(running)s. "
                "Retrain the model here (or install the versions it was built with)."
            )
            % {
                "path": directory,
                "built": ", ".join(f"{title} {was}" for title, was, _now in different),
                "running": ", ".join(f"{title} {now}" for title, _was, now in different),
            },
        )


def read_metadata(directory: str | os.PathLike) -> dict:
    """``metadata.json`` of a model directory, or a clear error."""
    path = Path(directory) / METADATA_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(metadata, dict):
            raise ValueError(f"a JSON object is expected, not {type(metadata).__name__}")
        return metadata
    except FileNotFoundError:
        raise ServiceError(
            "classifier.model_missing",
            _("%(path)s is not a model directory (no %(file)s).")
            % {"path": directory, "file": METADATA_FILE},
        ) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # ValueError: broken JSON, a list, …
        raise ServiceError(
            "classifier.model_unreadable",
            _("The metadata of the model in %(path)s cannot be read: %(error)s")
            % {"path": directory, "error": exc},
        ) from exc


_PARALLEL_MIN = 2000  # below this a batch is predicted in-process: forking costs more than it saves
_forked_model: TrainedModel | None = None  # the model the forked workers inherit


def _predict_chunk(chunk: list[object], presegmented: bool | None) -> tuple[np.ndarray, np.ndarray]:
    return _forked_model.score(chunk, presegmented=presegmented)


def _predict_forked(model: TrainedModel, texts: list[object], presegmented, n_jobs: int):
    """Per-chunk probability matrices from ``n_jobs`` forked processes; None where fork is unavailable."""
    import multiprocessing

    global _forked_model
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        return None
    if model.feature_config.uses_words:
        from zhiwang.classifier.ml.text import jieba_tokenizer

        jieba_tokenizer()  # load once in the parent; the children inherit it
    size = -(-len(texts) // n_jobs)
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    _forked_model = model
    try:
        with context.Pool(n_jobs) as pool:
            return pool.starmap(_predict_chunk, [(chunk, presegmented) for chunk in chunks])
    finally:
        _forked_model = None


def _evidence(features, x) -> np.ndarray:
    """Per row, how many distinct informative known features it has (see ``TrainedModel.score_prepared``).

    Known words (word models), known lexicon words of two characters or more (lexicon
    models), or known character pairs (character-only models). 0: the model is blind.
    """
    informative = _informative_columns(features)
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    return np.bincount(rows[informative[x.indices]], minlength=x.shape[0])


_informative: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_linear: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _informative_columns(features) -> np.ndarray:
    """Boolean mask over the union's columns of the features that count as evidence (cached per union)."""
    mask = _informative.get(features)
    if mask is None:
        spans, offset = {}, 0
        for name, block in features.transformer_list:
            spans[name] = (block, offset, len(block.vocabulary_))
            offset += len(block.vocabulary_)
        mask = np.zeros(offset, dtype=bool)
        if "word" in spans:
            _block, start, width = spans["word"]
            mask[start : start + width] = True
        else:
            name = "lexicon" if "lexicon" in spans else "char"
            block, start, _width = spans[name]
            # known words of two characters or more; for a character model its known character pairs
            mask[start + (block.multichar_columns() if name == "lexicon" else block.pair_columns())] = True
        _informative[features] = mask
    return mask


def _calibrated_proba(classifier, x) -> np.ndarray:
    """``classifier.predict_proba(x)``; for a calibrated linear model computed directly.

    scikit-learn validates its input again in every step (the estimator, then each class's
    calibrator): several milliseconds for one text, more than the arithmetic. For the model
    ``train`` builds (one calibrated linear classifier, three labels or more) the same
    numbers are computed here from the coefficients and calibrators (tested to match);
    anything else goes through scikit-learn.
    """
    parts = _linear.get(classifier)
    if parts is None:
        parts = _linear[classifier] = _linear_parts(classifier) or ()
    if not parts:
        return classifier.predict_proba(x)
    coef_t, intercept, slope, offset, others = parts
    decision = np.asarray(x @ coef_t) + intercept
    n_classes = decision.shape[1]
    if others is None:  # Platt on every class: expit(-(a d + b)), all columns at once
        proba = expit(-(slope * decision + offset))
    else:
        proba = np.empty((x.shape[0], n_classes))
        for j, calibrator in enumerate(others):
            proba[:, j] = calibrator.predict(decision[:, j])
    total = proba.sum(axis=1, keepdims=True)
    proba = np.divide(proba, total, out=np.full_like(proba, 1.0 / n_classes), where=total != 0)
    proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
    return proba


def _linear_parts(classifier) -> tuple | None:
    """(coef.T, intercept, Platt slopes, Platt offsets, other calibrators) of the model ``train`` builds; else None.

    Checked once per classifier (the checks cost as much as a prediction of one text).
    """
    calibrated = getattr(classifier, "calibrated_classifiers_", None)
    if (
        not calibrated
        or len(calibrated) != 1
        or getattr(calibrated[0], "method", None) not in ("sigmoid", "isotonic")
    ):
        return None
    inner = calibrated[0]
    estimator, n_classes = inner.estimator, len(inner.classes)
    coef = getattr(estimator, "coef_", None)
    if (
        coef is None
        or n_classes < 3
        or coef.shape[0] != n_classes
        or not np.array_equal(estimator.classes_, np.arange(n_classes))
        or not np.array_equal(inner.classes, np.arange(n_classes))
    ):
        return None
    calibrators = inner.calibrators
    if all(hasattr(c, "a_") and hasattr(c, "b_") for c in calibrators):
        slope = np.array([c.a_ for c in calibrators], dtype=np.float64)
        offset = np.array([c.b_ for c in calibrators], dtype=np.float64)
        return np.ascontiguousarray(coef.T), estimator.intercept_, slope, offset, None
    return np.ascontiguousarray(coef.T), estimator.intercept_, None, None, list(calibrators)


def _linear_coef(classifier) -> np.ndarray | None:
    """Mean coefficient matrix of a (calibrated) linear classifier, or None."""
    if hasattr(classifier, "coef_"):
        return np.asarray(classifier.coef_)
    calibrated = getattr(classifier, "calibrated_classifiers_", None)
    if calibrated:
        coefs = [getattr(c.estimator, "coef_", None) for c in calibrated]
        if all(c is not None for c in coefs):
            return np.mean([np.asarray(c) for c in coefs], axis=0)
    return None


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
