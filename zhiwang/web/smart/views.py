"""The smart-dispatch administration page (administrators only).

The precision/coverage curve of the active category model on the last N corrected
tickets, the auto-dispatch threshold, retraining (with progress), comparing a candidate
with the active model on held-back data, promote and roll back, the drift status, and the
routes the dispatchers keep correcting (the routing rules to revisit).
Thin: each POST calls one service of ``tickets.services.smart``. Promoting a model the
comparison does not recommend (or could not compare) and rolling back both ask for an explicit
confirmation, checked here, not only in the browser (``decisions``).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.classifier.models import ClassifierModel, ModelStatus
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import smart_selectors
from zhiwang.tickets.routing_corrections import DEFAULT_DAYS as CORRECTION_DAYS
from zhiwang.tickets.routing_corrections import route_corrections
from zhiwang.tickets.services import smart
from zhiwang.web.smart import decisions
from zhiwang.web.tickets.access import role_required

#: Only administrators (``role_required`` always lets them in; no other role is listed).
ADMINISTRATORS = frozenset()
CURVE_SIZES = (100, 200, 500, 1000, 2000)


def _last(request) -> int:
    try:
        value = int(request.GET.get("last", 500))
    except ValueError:
        value = 500
    return value if value in CURVE_SIZES else 500


@role_required(ADMINISTRATORS)
def smart_dispatch(request):
    last = _last(request)
    curve = smart_selectors.classifier_curve(last=last)
    runs = smart_selectors.training_runs()
    return render(
        request,
        "web/smart/index.html",
        {
            "curve": curve,
            "last": last,
            "sizes": CURVE_SIZES,
            "models": smart_selectors.classifier_models(),
            "drift": smart_selectors.classifier_drift(),
            "runs": runs,
            "running": next((r for r in runs if r.status in ("queued", "running")), None),
            # where the threshold in force came from (the model's note may say none was measured then)
            "threshold_source": decisions.threshold_source(curve.model),
            # the model a rollback brings back; none: no rollback button
            "rollback_to": decisions.rollback_target(),
            # the units the rules suggest and the dispatchers keep changing (the rules' owner acts)
            "corrections": route_corrections(user=request.user),
            "corrections_days": CORRECTION_DAYS,
        },
    )


@role_required(ADMINISTRATORS)
def run_progress(request, pk):
    run = smart_selectors.training_run_get(pk)
    if run is None:
        raise Http404
    return render(request, "web/smart/_run.html", {"run": run})


def _model(pk) -> ClassifierModel:
    model = next((m for m in smart_selectors.classifier_models() if m.pk == pk), None)
    if model is None:
        raise Http404
    return model


def _act(request, work, done: str):
    try:
        result = work()
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done if not callable(done) else done(result))
    return redirect("web:smart_dispatch")


@require_POST
@role_required(ADMINISTRATORS)
def set_threshold(request):
    raw = (request.POST.get("threshold") or "").strip()
    try:
        threshold = None if raw == "" else float(raw)
    except ValueError:
        messages.error(request, _("The threshold must be a number between 0 and 1."))
        return redirect("web:smart_dispatch")
    return _act(
        request,
        lambda: smart.classifier_set_threshold(threshold=threshold),
        _("Auto-dispatch threshold saved.")
        if threshold is not None
        else _("Automatic dispatch switched off."),
    )


@require_POST
@role_required(ADMINISTRATORS)
def retrain(request):
    run, created = smart.classifier_retrain_request(actor=request.user)
    if created:
        messages.success(request, _("Retraining started; progress is shown below."))
    else:
        messages.info(request, _("A retraining is already running."))
    return redirect("web:smart_dispatch")


def _figure(value) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "—"


@require_POST
@role_required(ADMINISTRATORS)
def compare(request, pk):
    """Compare a candidate with the model in use; the message names the verdict and the figures."""
    model = _model(pk)
    try:
        result = smart.classifier_compare(model=model)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("web:smart_dispatch")
    candidate, current = result["candidate"], result["current"]
    if current is None:
        messages.success(
            request,
            _(
                "%(model)s measured on %(count)s held-back tickets (no model is in use): accuracy "
                "%(accuracy)s, macro-F1 %(f1)s."
            )
            % {
                "model": model.display_name,
                "count": candidate.get("count"),
                "accuracy": _figure(candidate.get("accuracy")),
                "f1": _figure(candidate.get("macro_f1")),
            },
        )
        return redirect("web:smart_dispatch")
    text = _(
        "%(model)s compared with the model in use on %(count)s held-back tickets: %(verdict)s Accuracy "
        "%(accuracy)s against %(current_accuracy)s, macro-F1 %(f1)s against %(current_f1)s."
    ) % {
        "model": model.display_name,
        "count": candidate.get("count"),
        "verdict": _("the candidate is better.")
        if result["recommend"]
        else _("the candidate is not better."),
        "accuracy": _figure(candidate.get("accuracy")),
        "current_accuracy": _figure(current.get("accuracy")),
        "f1": _figure(candidate.get("macro_f1")),
        "current_f1": _figure(current.get("macro_f1")),
    }
    # a candidate not to promote is no green light: amber, as every warning
    (messages.success if result["recommend"] else messages.warning)(request, text)
    return redirect("web:smart_dispatch")


def _confirmed(request, name: str, model: ClassifierModel | None) -> bool:
    """The box was ticked, for the state the form showed: ``name`` (when sent) is the pk of ``model``
    ("" for none). A confirmation given while another model was in use (or was to come back) is
    no confirmation of what would happen now."""
    if not request.POST.get("confirm"):
        return False
    shown = request.POST.get(name)
    return shown is None or shown == ("" if model is None else str(model.pk))


@require_POST
@role_required(ADMINISTRATORS)
def promote(request, pk):
    """Promote a model; one the comparison does not recommend (or could not compare) only once confirmed.

    Without ``confirm``, the model is compared with the model in use first
    (``decisions.promotion_check``); when it is not better, or there was nothing to compare on,
    nothing changes and the confirmation page repeats the verdict and the figures, with the box to
    tick. The check is here, so a form posted without the box (or from a script) promotes nothing.
    """
    model = _model(pk)
    if model.status != ModelStatus.ACTIVE and not _confirmed(request, "against", decisions.model_in_use()):
        try:
            check = decisions.promotion_check(model)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("web:smart_dispatch")
        if check.needs_confirmation:
            return render(request, "web/smart/promote_confirm.html", {"check": check})
    return _act(
        request,
        lambda: smart.classifier_promote(model=model),
        _("The %(model)s is now in use.") % {"model": model.display_name},
    )


@require_POST
@role_required(ADMINISTRATORS)
def rollback(request):
    """Roll back one step, once the administrator ticked the box naming the model that comes back.

    With nothing earlier, the service's own error says so (the page shows no button then).
    """
    target = decisions.rollback_target()
    if target is not None and not _confirmed(request, "to", target):
        if request.POST.get("confirm"):  # ticked on a page that named another model
            text = _(
                "The models changed since the page was shown: a rollback now brings back %(model)s. "
                "Nothing was changed; confirm again."
            )
        else:
            text = _("Tick the box to confirm the rollback to %(model)s; nothing was changed.")
        messages.error(request, text % {"model": target.display_name})
        return redirect("web:smart_dispatch")
    return _act(
        request,
        smart.classifier_rollback,
        lambda model: _("Rolled back to %(model)s.") % {"model": model.display_name},
    )
