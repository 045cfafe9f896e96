"""Smart dispatch administration: retrain from the corrected history, threshold, promote, drift.

``tickets`` feeds ``classifier`` the platform's own labelled history; ``classifier``
never reads tickets. The labelled history is

* every ticket a person decided the category of (``CategoryCorrection``: the latest
  decision per ticket wins), and
* closed tickets whose category a person chose at intake or confirmed (their final category).

The newest corrected tickets are held back from training and measure the candidate
against the active model (``model_compare``); the administrator then promotes or not.
A model trained here records in its metrics which corrections it saw
(``metrics["training_cutoff"]``: the last correction collected, and the held-back ones),
so that its precision/coverage curve is measured only on tickets it was not trained on.

What the page shows of a run or a model is kept as data and put in words when read, in
the reader's language: a run's ``stage`` is a code (``STAGE_LABELS``), a failed run's
``error`` a code with its figures and the technical reason (``run_failure_message``), a
model's origin ``metrics["origin"]``; the drift notice keeps its figures (``classifier.notices``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zhiwang.classifier import selectors as classifier_selectors
from zhiwang.classifier import services as classifier_services
from zhiwang.classifier.ml.selective import RecentLabel
from zhiwang.classifier.models import ClassifierModel, Origin
from zhiwang.classifier.notices import drift_notice_params, drift_notice_text
from zhiwang.classifier.services import drift_notice_key
from zhiwang.core.errors import ServiceError
from zhiwang.core.models import AdminNotice
from zhiwang.core.services import admin_notice_raise, admin_notice_resolve
from zhiwang.tickets.catalogue_selectors import CATCH_ALL_NAMES
from zhiwang.tickets.classify import MODEL_NAME, leaf_by_code, model_cache_reset, ticket_text
from zhiwang.tickets.models import (
    UNCHECKED_SOURCES,
    CategoryCorrection,
    Ticket,
    TicketStatus,
    TrainingRun,
    TrainingStatus,
)
from zhiwang.tickets.notify import city_language

logger = logging.getLogger(__name__)

#: How many of the newest corrected tickets are held back for the comparison (at most).
HOLD_BACK_MAX = 500
HOLD_BACK_SHARE = 0.2
#: Closed tickets (people's categories) added to the corrections, newest first, at most.
HISTORY_MAX = 20_000
#: Fewer labelled examples than this cannot make a useful model.
MIN_EXAMPLES = 20
DRIFT_NOTICE_KEY = drift_notice_key(MODEL_NAME)  # "classifier.drift.category"
#: A queued or running training run that has not moved for this long is given up (failed).
#: Progress is written at every stage of training; the longest silent stretch (the final fit
#: on the whole history) takes minutes, far less than this.
STALE_RUN_AFTER = timedelta(hours=1)
_BUSY = (TrainingStatus.QUEUED, TrainingStatus.RUNNING)
#: Training progress: each stage of ``ml.train`` maps onto a slice of 0–100 %.
_STAGES = {"prepare": (5, 30), "cross-validate": (30, 80), "fit": (80, 92)}
#: The stages of a run (``TrainingRun.stage`` keeps the code), in words.
STAGE_LABELS = {
    "collect": gettext_lazy("collecting the labelled tickets"),
    "prepare": gettext_lazy("preparing the texts"),
    "cross-validate": gettext_lazy("cross-validating"),
    "fit": gettext_lazy("fitting the model"),
    "compare": gettext_lazy("comparing with the model in use"),
    "done": gettext_lazy("done"),
}


def stage_label(stage: str) -> str:
    """A run's stage in words, in the active language (an unknown code as it is)."""
    return str(STAGE_LABELS.get(stage, stage or ""))


# --- a failed run's error: a code, its figures and the technical reason ------------------------

#: Codes of ``TrainingRun.error`` written here (a ``ServiceError`` keeps its own code).
RUN_STALE = "tickets.training_stale"
RUN_DATA_SHORT = "tickets.training_data_short"
RUN_UNEXPECTED = "tickets.training_failed"
_ERROR = re.compile(
    r"^(?P<code>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)(?P<params>(?: [a-z_]+=-?\d+)*)(?:: (?P<detail>.*))?$", re.S
)


def run_error(code: str, detail: str = "", **params: int) -> str:
    """What ``TrainingRun.error`` keeps: ``"<code> <name>=<int> …: <technical reason>"`` (≤ 500).

    The code and figures give the sentence shown (``run_failure_message``, in the reader's
    language); the technical reason is for administrators (the Django admin, the logs).
    """
    head = code + "".join(f" {name}={int(value)}" for name, value in params.items())
    detail = " ".join(str(detail or "").split())
    return (f"{head}: {detail}" if detail else head)[:500]


def run_error_parts(error: str) -> tuple[str, dict, str] | None:
    """``(code, figures, technical reason)`` of a stored error; None for one stored as a sentence (old runs)."""
    match = _ERROR.match(error or "")
    if match is None:
        return None
    params = dict(pair.split("=") for pair in match["params"].split())
    return match["code"], {name: int(value) for name, value in params.items()}, match["detail"] or ""


def _failure_sentence(code: str, params: dict) -> str:
    if code == RUN_STALE:
        return _(
            "Given up: no progress for more than %(minutes)d minutes (the task worker stopped or "
            "was restarted). Start a new retraining."
        ) % {"minutes": params.get("minutes", int(STALE_RUN_AFTER.total_seconds() // 60))}
    if code == RUN_DATA_SHORT:
        return _(
            "Too little labelled history to train on (%(count)s examples; at least %(minimum)s in 2 categories)."
        ) % {"count": params.get("count", 0), "minimum": params.get("minimum", MIN_EXAMPLES)}
    if code == "classifier.no_usable_text":
        return _(
            "None of the labelled texts has a word or character to learn from (they are empty or punctuation only)."
        )
    if code == RUN_UNEXPECTED:
        return _("Training failed unexpectedly; the task worker's log has the details.")
    return _("Training failed (%(code)s); the task worker's log has the details.") % {"code": code}


def run_failure_message(run) -> str:
    """What the page says of a failed run, in the reader's language ("" unless it failed).

    Put in words from the stored code and figures; an error stored as a sentence (a run
    from before codes were kept) is shown as it was written.
    """
    if run.status != TrainingStatus.FAILED:
        return ""
    parts = run_error_parts(run.error)
    if parts is None:
        return run.error
    code, params, _detail = parts
    return _failure_sentence(code, params)


@dataclass
class LabelledHistory:
    """Texts and leaf codes to train on, and the held-back newest corrections to compare on.

    ``cutoff`` is the last correction (pk) the history was collected up to, ``cutoff_at``
    its time, and ``held_ids`` the held-back corrections (pks): what a model trained on
    ``texts`` has not seen is every correction after the cutoff and the held-back ones.
    """

    texts: list[str]
    labels: list[str]
    held_texts: list[str]
    held_labels: list[str]
    cutoff: int | None = None
    cutoff_at: str | None = None
    held_ids: list[int] = field(default_factory=list)

    def training_cutoff(self) -> dict:
        """What a model trained on this history records (``metrics["training_cutoff"]``)."""
        return {"correction": self.cutoff, "at": self.cutoff_at, "held_back": list(self.held_ids)}


def _latest_corrections():
    """The latest correction of each ticket (its pk as ``last``): a person's final word on it."""
    return CategoryCorrection.objects.values("ticket_id").annotate(last=Max("pk"))


def corrected_rows(
    *, limit: int | None = None, after: int | None = None, including: Collection[int] = ()
) -> list[tuple[int, int, str, str]]:
    """(correction pk, ticket id, text, final leaf code), newest decision first, one per ticket.

    With ``after``, only tickets whose latest correction came after that one (pk), or is
    one of ``including``.
    """
    latest = _latest_corrections()
    if after is not None:
        unseen = Q(last__gt=after)
        if including:
            unseen |= Q(last__in=list(including))
        latest = latest.filter(unseen)
    latest = latest.order_by("-last").values_list("last", flat=True)
    ids = list(latest[:limit] if limit else latest)
    rows = (
        CategoryCorrection.objects.filter(pk__in=ids)
        .select_related("final_category")
        .order_by("-at", "-pk")
        .values_list("pk", "ticket_id", "text", "final_category__code")
    )
    return [(pk, t, text, code) for pk, t, text, code in rows if leaf_by_code(code) is not None]


def corrected_examples(
    *, limit: int | None = None, after: int | None = None, including: Collection[int] = ()
) -> list[tuple[int, str, str]]:
    """(ticket id, text, final leaf code) of the corrected tickets, newest decision first, one per ticket.

    ``after`` and ``including`` as in :func:`corrected_rows` (the tickets a model has not seen).
    """
    return [
        (t, text, code)
        for _pk, t, text, code in corrected_rows(limit=limit, after=after, including=including)
    ]


def labelled_history(*, hold_back: int | None = None) -> LabelledHistory:
    """The training set and the held-back set (see the module docstring)."""
    cutoff = CategoryCorrection.objects.aggregate(last=Max("pk"))["last"]
    # a correction made while this runs is left for the next model (it is after the cutoff)
    corrected = [row for row in corrected_rows() if cutoff is not None and row[0] <= cutoff]
    cutoff_at = None
    if cutoff is not None:
        at = CategoryCorrection.objects.filter(pk=cutoff).values_list("at", flat=True).first()
        cutoff_at = at.isoformat(timespec="seconds") if at else None
    if hold_back is None:
        hold_back = min(HOLD_BACK_MAX, int(len(corrected) * HOLD_BACK_SHARE))
    held, kept = corrected[:hold_back], corrected[hold_back:]
    seen = {ticket_id for _pk, ticket_id, _t, _c in corrected}
    texts = [text for _pk, _id, text, _c in kept]
    labels = [code for _pk, _id, _t, code in kept]
    closed = (
        Ticket.objects.filter(status=TicketStatus.CLOSED)
        .exclude(category_source__in=UNCHECKED_SOURCES)
        .order_by("-pk")
        .values_list("pk", "title", "description", "category__code")[:HISTORY_MAX]
    )
    for pk, title, description, code in closed:
        if pk in seen or leaf_by_code(code) is None:
            continue
        texts.append(ticket_text(title=title, description=description))
        labels.append(code)
    return LabelledHistory(
        texts=texts,
        labels=labels,
        held_texts=[text for _pk, _id, text, _c in held],
        held_labels=[code for _pk, _id, _t, code in held],
        cutoff=cutoff,
        cutoff_at=cutoff_at,
        held_ids=[pk for pk, _id, _t, _c in held],
    )


# --- retraining (task worker) -------------------------------------------------------------


def stale_runs_give_up(*, now=None) -> int:
    """Mark queued or running runs that have not moved for ``STALE_RUN_AFTER`` as failed.

    Such a run was left by a task worker that died or was restarted (or a task that was
    lost); left alone it would block retraining for ever. Returns how many were given up.
    """
    now = now or timezone.now()
    minutes = int(STALE_RUN_AFTER.total_seconds() // 60)
    return TrainingRun.objects.filter(status__in=_BUSY, updated_at__lt=now - STALE_RUN_AFTER).update(
        status=TrainingStatus.FAILED,
        error=run_error(RUN_STALE, "no progress: the task worker stopped or was restarted", minutes=minutes),
        finished_at=now,
        updated_at=now,
    )


def classifier_retrain_request(*, actor) -> tuple[TrainingRun, bool]:
    """Queue a retraining (the task worker runs it); a run already queued or running is returned.

    Returns (run, created). The page polls the run's progress. A run that has not moved
    for ``STALE_RUN_AFTER`` is given up first (marked failed), so it cannot block for ever.
    """
    with transaction.atomic():
        stale_runs_give_up()
        busy = TrainingRun.objects.filter(status__in=_BUSY).first()
        if busy is not None:
            return busy, False
        try:
            with transaction.atomic():
                run = TrainingRun.objects.create(requested_by=actor if getattr(actor, "pk", None) else None)
        except IntegrityError:  # another request queued one at this moment (one queued run at most)
            # ... which its worker may have started, or even finished, since: that run all the same
            return TrainingRun.objects.filter(status__in=_BUSY).first() or TrainingRun.objects.first(), False

        def enqueue():
            from zhiwang.tickets.tasks import classifier_retrain_task

            classifier_retrain_task(run.pk)

        transaction.on_commit(enqueue)
    return run, True


def classifier_retrain(*, run_id: int, cv: int = 3) -> TrainingRun:
    """Train a candidate from the labelled history, compare it on the held-back set, record both.

    Progress goes to the run row as training goes. A failure is written on the run
    (and raised, so the worker logs it); nothing is promoted here.
    """
    run = TrainingRun.objects.get(pk=run_id)
    if run.status in (TrainingStatus.DONE, TrainingStatus.FAILED):
        return run

    def update(**fields):
        fields["updated_at"] = timezone.now()
        if not TrainingRun.objects.filter(pk=run.pk, status__in=_BUSY).update(**fields):
            # given up meanwhile (stale_runs_give_up): a newer run has taken over
            raise ServiceError("tickets.training_given_up", _("This retraining was given up; stopped."))
        for name, value in fields.items():
            setattr(run, name, value)

    update(status=TrainingStatus.RUNNING, progress=2, stage="collect")

    def progress(stage: str, done: int, total: int) -> None:
        low, high = _STAGES.get(stage, (5, 92))
        update(progress=int(low + (high - low) * done / max(total, 1)), stage=stage[:64])

    try:
        history = labelled_history()
        if len(history.texts) < MIN_EXAMPLES or len(set(history.labels)) < 2:
            short = ServiceError(
                RUN_DATA_SHORT,
                _(
                    "Too little labelled history to train on (%(count)s examples; at least %(minimum)s in 2 categories)."
                )
                % {"count": len(history.texts), "minimum": MIN_EXAMPLES},
            )
            short.params = {"count": len(history.texts), "minimum": MIN_EXAMPLES}
            raise short
        update(examples=len(history.texts), held_back=len(history.held_texts))
        model = classifier_services.model_train(
            name=MODEL_NAME,
            texts=history.texts,
            labels=history.labels,
            cv=cv,
            progress=progress,
            extra_metrics={
                "training_cutoff": history.training_cutoff(),
                "origin": Origin.as_dict(Origin.RETRAINED, count=len(history.texts)),
            },
        )
        update(model=model, progress=94, stage="compare")
        comparison = {}
        if history.held_texts:
            comparison = classifier_services.model_compare(
                candidate=model, texts=history.held_texts, labels=history.held_labels
            ).as_dict()
        update(
            comparison=comparison,
            status=TrainingStatus.DONE,
            progress=100,
            stage="done",
            finished_at=timezone.now(),
        )
    except Exception as error:
        if isinstance(error, ServiceError):
            message = run_error(error.code, error.message, **getattr(error, "params", {}))
        else:  # a library's own words mean nothing on the page; the worker's log has them
            message = run_error(RUN_UNEXPECTED, type(error).__name__)
        now = timezone.now()
        fields = {"status": TrainingStatus.FAILED, "error": message, "finished_at": now}
        TrainingRun.objects.filter(pk=run.pk, status__in=_BUSY).update(updated_at=now, **fields)
        for name, value in fields.items():
            setattr(run, name, value)
        raise
    return run


# --- promote, roll back, threshold ------------------------------------------------------------


def classifier_promote(*, model: ClassifierModel) -> ClassifierModel:
    """Make ``model`` the one that suggests (the previous one is retired)."""
    promoted = classifier_services.model_promote(model=model)
    model_cache_reset()
    return promoted


def classifier_rollback() -> ClassifierModel:
    """Bring back the model that was active before the current one."""
    restored = classifier_services.model_rollback(name=MODEL_NAME)
    model_cache_reset()
    return restored


def classifier_set_threshold(*, threshold: float | None) -> ClassifierModel:
    """Set the active model's auto-dispatch threshold (None: never dispatch automatically)."""
    model = classifier_selectors.active_model(MODEL_NAME)
    if model is None:
        raise ServiceError("tickets.no_active_model", _("No category model is active."), field="threshold")
    return classifier_services.model_set_threshold(model=model, threshold=threshold)


# --- drift ----------------------------------------------------------------------------------


def recent_window(model: ClassifierModel):
    """The tickets the drift check looks at: those ``model`` classified, newest first (slice it)."""
    return Ticket.objects.filter(classification__model=f"{model.name} v{model.version}").order_by("-pk")


def recent_confidences(model: ClassifierModel, *, limit: int = 500) -> list[float]:
    """The top confidences the model gave on the latest tickets (newest first).

    A ticket on which the model was blind (it knew nothing in the text, ``"blind": true``, kept
    without choices) counts with its uniform confidence, 1 / number of labels: a surge of texts
    the model cannot read must show as falling confidence, not vanish from the check. A ticket
    filed under a category the model was never trained on (a catch-all "其他" leaf, a category
    added since) is left out, as in :func:`recent_agreement`: its reference figures hold none
    (:func:`recent_categories` counts those).
    """
    rows = recent_window(model).values_list("classification", "category__code")[:limit]
    uniform = 1.0 / len(model.labels) if model.labels else 0.0
    known = set(model.labels or ())
    out = []
    for record, code in rows:
        record = record or {}
        choices = record.get("choices") or []
        if choices:
            if known and code not in known:
                continue  # filed under a category it never learned (as for agreement): not in its reference
            out.append(float(choices[0][1]))
        elif record.get("blind"):
            out.append(uniform)
    return out


def recent_categories(model: ClassifierModel, *, limit: int = 500) -> list[RecentLabel]:
    """The final categories people decided, among the tickets of :func:`recent_confidences` (newest first).

    The same window (the latest ``limit`` tickets the model classified), keeping those whose
    category a person chose or confirmed (not ``UNCHECKED_SOURCES``: the model's own choices
    can only be categories it knows, and a guess still to be checked is not final). A
    catch-all leaf ("其他", ``catalogue_selectors.CATCH_ALL_NAMES``) is marked so: the drift check counts it
    apart and never alarms on it (docs/smart_dispatch.md, "Drift").
    """
    rows = recent_window(model).values_list("category__code", "category__name", "category_source")[:limit]
    return [
        RecentLabel(code=code, name=name or "", catch_all=name in CATCH_ALL_NAMES)
        for code, name, source in rows
        if code and source not in UNCHECKED_SOURCES
    ]


def recent_agreement(model: ClassifierModel, *, limit: int = 500) -> list[bool]:
    """For the latest tickets people decided on after this model's suggestion: did they keep its top choice?

    One answer per ticket, its latest decision (as in :func:`corrected_examples`): a ticket
    corrected at intake and again by the dispatcher counts once, with the final category.
    A decision for a category the model was not trained on (a catch-all "其他" leaf left to
    people, a category added since) is left out: the model cannot choose it, and the reference
    accuracy it is compared with does not include such tickets either.
    """
    tag = f"{model.name} v{model.version}"
    known = set(model.labels or ())
    rows = (
        CategoryCorrection.objects.filter(
            model=tag, pk__in=_latest_corrections().values_list("last", flat=True)
        )
        .exclude(suggested_label="")
        .order_by("-at", "-pk")
        .values_list("suggested_label", "final_category__code")[:limit]
    )
    return [label == code for label, code in rows if not known or code in known]


def classifier_drift_check(*, limit: int = 500, min_recent: int = 30):
    """Compare the active model's recent confidence and agreement with its reference; notify on drift.

    Also measures the share of recent decided tickets in categories the model never learned
    (:func:`recent_categories`, ``DriftResult.unknown``): above the limit
    (``ZHIWANG_CLASSIFIER_UNKNOWN_SHARE``, 5 %) it is one more finding of the same notice.
    Raises (or refreshes) the administrator notice ``classifier.drift.category`` when
    drift is detected and resolves it when the model is back in line. Returns the
    ``DriftResult`` (None with no active model).
    """
    model = classifier_selectors.active_model(MODEL_NAME)
    if model is None:
        admin_notice_resolve(key=DRIFT_NOTICE_KEY)
        return None
    result = classifier_selectors.model_drift(
        model,
        recent_confidences=recent_confidences(model, limit=limit),
        recent_agreement=recent_agreement(model, limit=limit) or None,
        recent_categories=recent_categories(model, limit=limit),
        min_recent=min_recent,
    )
    if result.warning:
        params = drift_notice_params(model, result)
        with city_language():  # the stored text: the logs' and the Django admin's
            message = drift_notice_text(params)
        with transaction.atomic():
            admin_notice_raise(key=DRIFT_NOTICE_KEY, message=message)
            # shown from its figures in each reader's language (AdminNotice.text)
            AdminNotice.objects.filter(key=DRIFT_NOTICE_KEY).update(params=params)
    else:
        admin_notice_resolve(key=DRIFT_NOTICE_KEY)
    return result


def classifier_compare(*, model: ClassifierModel) -> dict:
    """Measure a candidate against the active model on the held-back newest corrections.

    Both models' figures are recorded on them (``metrics["held_back"]``); returns the
    comparison as a dict (``candidate``, ``current``, ``recommend``, ``reasons``).
    """
    history = labelled_history()
    if not history.held_texts:
        raise ServiceError(
            "tickets.no_held_back_data",
            _("There are no corrected tickets to compare on yet: dispatchers' corrections are needed."),
        )
    return classifier_services.model_compare(
        candidate=model, texts=history.held_texts, labels=history.held_labels
    ).as_dict()
