"""Every write of the classifier app, and ``suggest``, the one call the platform predicts with.

Training a model (``ml.train``) is pure computation; these services put the result on
record: ``model_train`` trains from texts and labels and registers a candidate,
``model_register`` registers a directory trained elsewhere (``zhiwang classify train``),
``model_promote`` makes one active (retiring the previous one), ``model_rollback``
goes back to the one in use before it, ``model_retire`` switches suggestions off.
Each stretch of use is a ``ModelActivation`` row (the promotion history): rollbacks walk
back through it and never forward, and a model's ``note`` is left to people.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.classifier import selectors
from zhiwang.classifier.ml import (
    AUTO,
    FORMAT_VERSION,
    TrainedModel,
    read_metadata,
    train,
    urgency,
)
from zhiwang.classifier.ml.evaluation import TARGET_PRECISION, Comparison, compare
from zhiwang.classifier.ml.model import check_library_versions
from zhiwang.classifier.ml.urgency import UrgencyAssessment
from zhiwang.classifier.models import (
    MODEL_KIND_LABELS,
    TRANSITIONS,
    ActivationEnd,
    ActivationVia,
    ClassifierModel,
    ModelActivation,
    ModelStatus,
    Origin,
    model_root,
)
from zhiwang.core.errors import Conflict, NotFound, ServiceError
from zhiwang.core.services import admin_notice_resolve

logger = logging.getLogger(__name__)


# --- Registry -------------------------------------------------------------------


def _next_version(name: str) -> int:
    return (ClassifierModel.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0) + 1


def _stored_path(directory: Path) -> str:
    root = model_root().resolve()
    directory = directory.resolve()
    return str(directory.relative_to(root)) if directory.is_relative_to(root) else str(directory)


def _version_folder(name: str, version: int) -> Path:
    """The managed folder for ``name`` v``version``, free to be written (call with the name locked).

    A folder already there was left by an earlier database (e.g. the demo city rebuilt) or by a
    copy that crashed half-way: no model of this name has this version (the lock is held), so
    it is kept, renamed out of the way. A folder some registered model still names (one
    registered in place from inside the model folder) is never moved: that is refused.
    """
    target = model_root() / name / f"v{version}"
    if target.exists():
        named = Q()
        for stored in {_stored_path(target), str(target.resolve())}:  # relative, or absolute from before
            named |= Q(path=stored) | Q(path__startswith=f"{stored}/")
        if ClassifierModel.objects.filter(named).exists():
            raise ServiceError(
                "classifier.target_exists",
                _("The model folder %(path)s belongs to another registered model; move it away first.")
                % {"path": target},
            )
        target.rename(target.with_name(f"{target.name}.orphaned-{timezone.now():%Y%m%d%H%M%S%f}"))
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _check_directory(directory: Path) -> dict:
    metadata = read_metadata(directory)  # raises a clear ServiceError when missing or unreadable
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ServiceError(
            "classifier.format_version",
            _("The model in %(path)s has format version %(found)s; this Zhiwang reads version %(expected)s.")
            % {"path": directory, "found": metadata.get("format_version"), "expected": FORMAT_VERSION},
        )
    check_library_versions(directory, metadata)
    return metadata


@transaction.atomic
def model_register(
    *, name: str, directory: str | Path, note: str = "", copy: bool = True, origin: dict | None = None
) -> ClassifierModel:
    """Record a trained model directory as a new candidate version of ``name``.

    A directory outside the model folder is copied into ``<model folder>/<name>/v<version>``
    (with ``copy=True``) so that every model in use lives in one managed place; a leftover
    folder of that name that no model names is moved aside, as ``model_train`` does. ``origin``
    (``Origin.as_dict(...)``) is kept in ``metrics["origin"]`` unless the model's own metrics
    name one; by default a registered folder. ``note`` is what a person wrote about it.

    The name is locked first (``_lock_name``): two registrations or trainings of one name take
    turns, the second one numbered after the first. A copy is removed when the registration fails.
    """
    directory = Path(directory)
    metadata = _check_directory(directory)
    _lock_name(name)
    version = _next_version(name)
    copied = None
    if copy and not directory.resolve().is_relative_to(model_root().resolve()):
        copied = _version_folder(name, version)
    try:
        if copied is not None:
            try:
                shutil.copytree(directory, copied)
            except FileExistsError:  # made by something else meanwhile: not ours to remove
                copied = None
                raise
            directory = copied
        metrics = dict(metadata.get("metrics") or {})
        metrics.setdefault("origin", origin or Origin.as_dict(Origin.FOLDER))
        return ClassifierModel.objects.create(
            name=name,
            version=version,
            path=_stored_path(directory),
            labels=list(metadata.get("labels") or []),
            metrics=metrics,
            training_size=int(metadata.get("training_size") or 0),
            threshold=metrics.get("threshold"),
            status=ModelStatus.CANDIDATE,
            note=note[:500],
        )
    except BaseException:
        if copied is not None:
            shutil.rmtree(copied, ignore_errors=True)
        raise


def model_train(
    *,
    name: str,
    texts: Sequence[object],
    labels: Sequence[object],
    presegmented: bool | None = None,
    cv: int = 5,
    progress=None,
    note: str = "",
    extra_metrics: dict | None = None,
) -> ClassifierModel:
    """Train on ``texts``/``labels`` (e.g. corrected tickets), save under the model folder, register a candidate.

    ``extra_metrics`` are kept in the model's metrics beside the measured ones (e.g. the
    caller's record of which data the model was trained on, and ``origin``: where it came
    from, as data, see ``models.Origin``). Training runs outside any transaction (it takes
    minutes); only the registration is atomic.
    """
    trained = train(texts, labels, presegmented=presegmented, cv=cv, progress=progress, name=name)
    if extra_metrics:
        trained.metadata["metrics"] = {**(trained.metadata.get("metrics") or {}), **extra_metrics}
    # a folder of this training only: another training of the name may be saving at the same time
    staging = model_root() / name / f".training-{timezone.now():%Y%m%d%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    moved_to = None
    try:
        trained.save(staging)
        with transaction.atomic():
            _lock_name(name)  # before the version is chosen: trainings of one name take turns
            version = _next_version(name)
            target = _version_folder(name, version)
            staging.rename(target)
            moved_to = target
            return model_register(name=name, directory=target, note=note, copy=False)
    except BaseException:
        # nothing of a failed training stays behind (its version is free again)
        shutil.rmtree(moved_to or staging, ignore_errors=True)
        raise


def _transition(model: ClassifierModel, to: str) -> None:
    if to not in TRANSITIONS.get(model.status, set()):
        raise ServiceError(
            "classifier.illegal_transition",
            _("A %(status)s model cannot become %(to)s.") % {"status": model.get_status_display(), "to": to},
        )


#: The first key of the transaction advisory lock of a model name (PostgreSQL).
NAME_LOCK_SPACE = 0x5A43


def _lock_name(name: str) -> None:
    """Lock every registered model of ``name`` (in pk order) until the transaction ends, and the
    name itself (PostgreSQL: a transaction advisory lock, also when no model of it exists yet).

    Promote and rollback take this lock first, so two of them for one name run one after
    the other: the second sees the first one's active model and retires it, instead of
    both activating a model and one of them failing on the one-active-per-name constraint.
    """
    if connection.vendor == "postgresql":
        # a name with no model yet has no row to lock: two first trainings would both take v1
        # (SQLite serialises writing transactions: nothing to do there)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [NAME_LOCK_SPACE, name])
    list(ClassifierModel.objects.select_for_update().filter(name=name).order_by("pk").values_list("pk"))


def drift_notice_key(name: str) -> str:
    """The administrator notice about drift of the ``name`` models (see ``classifier.notices``)."""
    return f"classifier.drift.{name}"


def _open_activation(model: ClassifierModel | None) -> ModelActivation | None:
    """The running stretch of use of the active ``model``.

    A model made active without one (before the history was kept, or written directly) gets
    one now, starting at its ``promoted_at``, with nothing to roll back to.
    """
    if model is None:
        return None
    activation = (
        ModelActivation.objects.filter(model=model, ended_at__isnull=True)
        .order_by("-activated_at", "-pk")
        .first()
    )
    if activation is None:
        activation = ModelActivation.objects.create(
            name=model.name,
            model=model,
            via=ActivationVia.PROMOTE,
            activated_at=model.promoted_at or timezone.now(),
        )
    return activation


def _last_activation(name: str) -> ModelActivation | None:
    return ModelActivation.objects.filter(name=name).order_by("-activated_at", "-pk").first()


def _activate(
    model: ClassifierModel, *, via: str, previous: ModelActivation | None, ended_by: str, note: str = ""
) -> ClassifierModel:
    """Make ``model`` the active one of its name (lock held, transition checked, files loaded).

    The active model is retired and its stretch of use closed (``ended_by``); the new stretch
    starts with ``previous`` as what a rollback from it returns to. The drift notice of the
    name is resolved: it was about the model no longer in use (the next check raises it again
    if the new one drifts).
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            for current in ClassifierModel.objects.filter(name=model.name, status=ModelStatus.ACTIVE):
                activation = _open_activation(current)
                activation.ended_at, activation.ended_by = now, ended_by
                activation.save(update_fields=["ended_at", "ended_by"])
                current.status = ModelStatus.RETIRED
                current.retired_at = now
                current.save(update_fields=["status", "retired_at"])
            model.status = ModelStatus.ACTIVE
            model.promoted_at = now
            if note:
                model.note = note[:500]
            model.save(update_fields=["status", "promoted_at", "note"])
            ModelActivation.objects.create(
                name=model.name, model=model, via=via, activated_at=now, previous=previous
            )
    except IntegrityError as error:  # the lock makes this unreachable; say so clearly if it is not
        raise Conflict(
            "classifier.concurrent_change",
            _("Somebody changed the %(name)s models at the same time; reload and try again.")
            % {"name": model.name},
        ) from error
    admin_notice_resolve(key=drift_notice_key(model.name))
    return model


@transaction.atomic
def model_promote(*, model: ClassifierModel, note: str = "") -> ClassifierModel:
    """Make ``model`` the active one of its name; the previously active model is retired.

    The model files are loaded first: a directory that cannot be read is never promoted.
    A rollback from it returns to the model in use before (or, with none in use, to the one
    in use last). ``note`` is a person's note about the model (kept when empty).
    """
    _lock_name(model.name)
    model = ClassifierModel.objects.get(pk=model.pk)  # as committed by whoever held the lock before
    if model.status == ModelStatus.ACTIVE:
        return model
    _transition(model, ModelStatus.ACTIVE)
    load_model(model)  # raises ServiceError when missing, unreadable or of another format
    current = selectors.active_model(model.name)
    previous = _open_activation(current) if current is not None else _last_activation(model.name)
    if previous is not None and previous.model_id == model.pk:  # back in use after being switched off
        previous = previous.previous
    return _activate(
        model, via=ActivationVia.PROMOTE, previous=previous, ended_by=ActivationEnd.REPLACED, note=note
    )


@transaction.atomic
def model_rollback(*, name: str = "category") -> ClassifierModel:
    """Go back one step in the promotion history: the model in use before the current one.

    Successive rollbacks walk back (v3 → v2 → v1), never forward: the restored stretch of use
    returns, on a further rollback, to the one before it. With no model in use (switched
    off), the model in use last comes back. Nothing earlier: ``NotFound``
    (``classifier.no_previous_model``). The models' notes are left as they are.
    """
    _lock_name(name)
    current = selectors.active_model(name)
    target = _open_activation(current).previous if current is not None else _last_activation(name)
    if target is None or target.model.status != ModelStatus.RETIRED:
        raise NotFound(
            "classifier.no_previous_model",
            _("There is no earlier %(model)s to roll back to.")
            % {"model": MODEL_KIND_LABELS.get(name, name)},
        )
    model = target.model
    load_model(model)  # raises ServiceError when missing, unreadable or of another format
    # the restored stretch goes back, on a further rollback, to the one before it
    return _activate(
        model, via=ActivationVia.ROLLBACK, previous=target.previous, ended_by=ActivationEnd.ROLLED_BACK
    )


@transaction.atomic
def model_retire(*, model: ClassifierModel) -> ClassifierModel:
    """Take ``model`` out of use; with no active model, suggestions are simply empty."""
    model = ClassifierModel.objects.select_for_update().get(pk=model.pk)
    if model.status == ModelStatus.RETIRED:
        return model
    _transition(model, ModelStatus.RETIRED)
    now = timezone.now()
    if model.status == ModelStatus.ACTIVE:
        activation = _open_activation(model)
        activation.ended_at, activation.ended_by = now, ActivationEnd.RETIRED
        activation.save(update_fields=["ended_at", "ended_by"])
        admin_notice_resolve(key=drift_notice_key(model.name))
    model.status = ModelStatus.RETIRED
    model.retired_at = now
    model.save(update_fields=["status", "retired_at"])
    return model


@transaction.atomic
def model_set_threshold(*, model: ClassifierModel, threshold: float | None) -> ClassifierModel:
    """Set the auto-dispatch threshold (a probability in [0, 1]; None: never dispatch automatically)."""
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ServiceError(
            "classifier.bad_threshold", _("The threshold must lie between 0 and 1."), field="threshold"
        )
    model.threshold = None if threshold is None else float(threshold)
    model.save(update_fields=["threshold"])
    return model


def model_compare(
    *,
    candidate: ClassifierModel,
    texts: Sequence[object],
    labels: Sequence[object],
    current: ClassifierModel | None = None,
    presegmented: bool | None = None,
    target_precision: float = TARGET_PRECISION,
) -> Comparison:
    """Measure ``candidate`` against the active model of its name on the same held-back texts.

    ``current`` defaults to the active model (none: the candidate is recommended). Both
    models' figures are recorded in their ``metrics["held_back"]`` (with the size of the
    set), so the admin page can show them side by side; promoting stays a separate decision.
    A model is not compared with itself (``classifier.compare_same_model``).
    """
    if current is None:
        current = selectors.active_model(candidate.name)
    if current is not None and current.pk == candidate.pk:
        raise ServiceError(
            "classifier.compare_same_model",
            _("%(model)s is the model in use: there is nothing to compare it with.")
            % {"model": candidate.display_name},
        )
    if current is not None and current.name != candidate.name:
        raise ServiceError(
            "classifier.name_mismatch",
            _("A %(candidate)s model cannot be compared with a %(current)s model.")
            % {"candidate": candidate.name, "current": current.name},
        )
    comparison = compare(
        load_model(candidate),
        None if current is None else load_model(current),
        texts,
        labels,
        presegmented=presegmented,
        target_precision=target_precision,
    )
    with transaction.atomic():
        for record, evaluation in ((candidate, comparison.candidate), (current, comparison.current)):
            if record is None or evaluation is None:
                continue
            record = ClassifierModel.objects.select_for_update().get(pk=record.pk)
            held_back = evaluation.as_dict()
            held_back["measured_at"] = timezone.now().isoformat(timespec="seconds")
            record.metrics = {**(record.metrics or {}), "held_back": held_back}
            record.save(update_fields=["metrics"])
    return comparison


# --- Prediction -----------------------------------------------------------------

_cache: OrderedDict[tuple[str, int, str], TrainedModel] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 4
#: A model that failed in ``suggest`` is not tried again for this long (per process): loading a
#: large broken file on every submission would slow each one down for nothing.
FAILED_RETRY_SECONDS = 60.0
_failed: dict[tuple[str, int, str], float] = {}


def _key(model: ClassifierModel) -> tuple[str, int, str]:
    return (model.name, model.version, str(model.directory))


def load_model(model: ClassifierModel) -> TrainedModel:
    """The loaded model files of a registry row, cached per process (a few at most)."""
    key = _key(model)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    loaded = TrainedModel.load(model.directory)
    with _cache_lock:
        _cache[key] = loaded
        _failed.pop(key, None)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded


@dataclass(frozen=True)
class Suggestion:
    """The model's answer for one text: ranked labels, the confidence and the dispatch decision."""

    choices: list[tuple[str, float]]  # (label, probability), best first
    decision: str  # "auto" or "queue" (ml.selective.decide with the model's threshold)
    model: str  # e.g. "category v3", for the record of who suggested what
    #: The model knew nothing about the text (the uniform answer, see ``TrainedModel.is_blind``):
    #: its choices are no suggestion and it always queues.
    blind: bool = False
    #: The text has too few known words (fewer than ``ml.selective.MIN_EVIDENCE``): its choices
    #: are shown, but it always queues however confident the model is.
    thin: bool = False

    @property
    def label(self) -> str:
        return self.choices[0][0] if self.choices else ""

    @property
    def confidence(self) -> float:
        return self.choices[0][1] if self.choices else 0.0

    @property
    def auto(self) -> bool:
        return self.decision == AUTO


def suggest(texts: Sequence[object], *, name: str = "category", top_k: int = 3) -> list[Suggestion]:
    """One :class:`Suggestion` per text from the active model of ``name``.

    Returns ``[]`` when no model is active or it cannot be loaded or fails to predict
    (logged): the platform must keep working on rules alone, never fail because of the
    model. A text the model knows nothing about comes back ``blind`` (uniform choices,
    always queued); one with too few known words ``thin`` (its choices, always queued).
    The decision is ``TrainedModel.predictions``'s, at the registry's threshold.
    """
    record = selectors.active_model(name)
    if record is None or not texts:
        return []
    key = _key(record)
    failed_at = _failed.get(key)
    if failed_at is not None and time.monotonic() - failed_at < FAILED_RETRY_SECONDS:
        return []
    try:
        model = load_model(record)
        predictions = model.predictions(list(texts), threshold=record.threshold, top_k=top_k)
    except Exception:  # a broken model file must not break ticket submission
        logger.exception("classifier: active model %s cannot be used; no suggestions", record)
        with _cache_lock:
            _failed[key] = time.monotonic()
            _cache.pop(key, None)  # loaded but failing: read it afresh next time
        return []
    tag = f"{record.name} v{record.version}"
    suggestions = []
    for prediction in predictions:
        choices = prediction.choices
        if prediction.blind:  # the uniform answer, kept as before: the callers drop it
            choices = [(label, 1.0 / len(model.labels)) for label in model.labels[: max(1, int(top_k))]]
        suggestions.append(
            Suggestion(
                choices=choices,
                decision=prediction.decision,
                model=tag,
                blind=prediction.blind,
                thin=prediction.thin,
            )
        )
    return suggestions


def assess_urgency(*, title: object = "", body: object = "") -> UrgencyAssessment:
    """How urgent a message reads, and why: ``(urgency, reasons)`` from transparent rules.

    ``result.urgency`` is a value of ``tickets.Urgency`` (``"urgent"`` only when a present
    danger is named in the title); ``result.level`` is ``urgent``, ``possible`` (a danger in
    the body only: a person should look) or ``none``; ``result.reasons`` lists
    ``(code, phrase, label)`` for the dispatcher. No model and no database: works on a fresh
    install, never raises. See ``ml.urgency`` for the rules and docs/classifier.md for the
    measured precision and recall.
    """
    return urgency.assess(title, body)
