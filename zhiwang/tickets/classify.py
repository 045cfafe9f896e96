"""The classify step of the submit pipeline (``tickets.classify()`` in DESIGN.md).

One call to ``classifier.services.suggest`` per ticket, on its title and description.
The model's labels are the catalogue's leaf category codes. What it said is kept on the
ticket (``Ticket.classification``: model, top choices with confidences, decision) so the
dispatcher sees why, and so a person's later decision can be compared with it.

Who wins:
* the citizen's or operator's own category always wins (the suggestion is only recorded);
* a channel that sends free text without a category gets the model's category: a
  confident ("auto") suggestion may be dispatched automatically when the routing rule is
  certain too; a less confident one is the model's best guess and waits in the queue;
* with no active model (a fresh install), or when the model knows nothing about the text
  (its uniform, "blind" answer: English, punctuation or digits only), the catalogue's
  keywords give the best guess, always to be checked by a dispatcher; when they find
  nothing either, no category is applied and the submission is refused;
* the same when the model's top label is a category deactivated since it was trained (its
  probabilities are about a category that is gone), or when its best live category has
  less than ``MIN_APPLIED_PROBABILITY``: the record then says ``"decision": "queue"``,
  and names the labels that are no longer categories (``"inactive_labels"``).

No model, no extra query: whether a model is active is remembered per process for
``ZHIWANG_TICKETS_CACHE_CHECK_SECONDS`` (the routing snapshot's interval).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from django.conf import settings

from zhiwang.classifier import selectors as classifier_selectors
from zhiwang.classifier import services as classifier_services
from zhiwang.classifier.ml.selective import QUEUE
from zhiwang.classifier.services import Suggestion
from zhiwang.tickets.cache import RoutingConfig, routing_config
from zhiwang.tickets.models import Category, CategorySource

#: The registry name of the platform's category model.
MODEL_NAME = "category"
TOP_K = 3
#: A model category less probable than this is no suggestion worth applying (the keywords decide).
MIN_APPLIED_PROBABILITY = 0.2

_lock = threading.Lock()
_state: dict = {"checked_at": float("-inf"), "active": True}


def model_cache_reset() -> None:
    """Forget whether a model is active (after promote, rollback, retire in this process)."""
    with _lock:
        _state["checked_at"] = float("-inf")


def _model_may_be_active() -> bool:
    interval = getattr(settings, "ZHIWANG_TICKETS_CACHE_CHECK_SECONDS", 5)
    if interval <= 0:
        return True  # suggest() finds out itself, in its one query
    now = time.monotonic()
    with _lock:
        if now - _state["checked_at"] < interval:
            return _state["active"]
    active = classifier_selectors.active_model(MODEL_NAME) is not None
    with _lock:
        _state.update(checked_at=now, active=active)
    return active


def model_suggestions(texts: list[str], *, top_k: int = TOP_K) -> list[Suggestion]:
    """The active model's suggestions for ``texts`` ([] with no model: rules and keywords then).

    One per text, in order. For a text the model knows nothing about (``blind``: English,
    punctuation or digits only, …) the suggestion has no choices: the model's uniform
    answer is no suggestion, so the keywords decide, or the text is refused.
    """
    if not texts or not _model_may_be_active():
        return []
    return [
        replace(s, choices=[]) if s.blind else s
        for s in classifier_services.suggest(texts, name=MODEL_NAME, top_k=top_k)
    ]


def ticket_text(*, title: str, description: str) -> str:
    """What the model reads: the title (when it says more than the description's start) and the body."""
    title, description = (title or "").strip(), (description or "").strip()
    if title and not description.startswith(title):
        return f"{title}。{description}"
    return description


def _leaves(config: RoutingConfig) -> dict[str, Category]:
    """Active leaf categories by code, from the routing snapshot (cached on it)."""
    cached = getattr(config, "_leaves_by_code", None)
    if cached is not None:
        return cached
    with_children = {c.parent_id for c in config.categories.values() if c.is_active and c.parent_id}
    leaves = {c.code: c for c in config.categories.values() if c.is_active and c.pk not in with_children}
    object.__setattr__(config, "_leaves_by_code", leaves)  # frozen dataclass: one-off memo
    return leaves


def leaf_by_code(code: str) -> Category | None:
    return _leaves(routing_config()).get(code)


def allows_kind(category: Category, kind: str) -> bool:
    return not category.kinds or not kind or kind in category.kinds


def live_choices(suggestion: Suggestion, *, kind: str = "") -> list[tuple[int, Category, float]]:
    """(rank, leaf, probability) of the suggested labels that are active leaves allowing ``kind``.

    ``[]`` when the top label is no longer an active leaf category (deactivated, or given
    sub-categories, since the model was trained): the probabilities were shared out among
    the labels as they were, and the ones left say nothing once the winner is gone.
    """
    leaves = _leaves(routing_config())
    if not suggestion.choices or suggestion.choices[0][0] not in leaves:
        return []
    out = []
    for rank, (label, probability) in enumerate(suggestion.choices):
        leaf = leaves.get(label)
        if leaf is not None and allows_kind(leaf, kind):
            out.append((rank, leaf, float(probability)))
    return out


def inactive_labels(suggestion: Suggestion | None) -> list[str]:
    """The suggested labels that are no longer active leaf categories."""
    if suggestion is None:
        return []
    leaves = _leaves(routing_config())
    return [label for label, _p in suggestion.choices if label not in leaves]


def record_of(suggestion: Suggestion | None, *, source: str = "") -> dict:
    """What is kept on the ticket: ``{"model", "choices": [[code, p], …], "decision", "source"}``.

    A blind suggestion (see :func:`model_suggestions`) is kept with no choices and ``"blind": true``;
    one with too few known words to be dispatched automatically with ``"thin": true``; labels
    that are no longer categories are listed in ``"inactive_labels"``.
    """
    if suggestion is None:
        return {"source": source} if source else {}
    record = {
        "model": suggestion.model,
        "choices": [[label, round(float(p), 4)] for label, p in suggestion.choices],
        "decision": suggestion.decision,
        "source": source,
    }
    if suggestion.blind:
        record["blind"] = True  # the model was asked and knew nothing about the text
    if suggestion.thin:
        record["thin"] = True  # too few known words: always queued, however confident
    inactive = inactive_labels(suggestion)
    if inactive:
        record["inactive_labels"] = inactive
    return record


@dataclass
class Classification:
    """The outcome of the classify step for one ticket."""

    category: Category | str | None  # what the ticket will carry (the given one wins)
    source: str  # CategorySource
    suggestion: Suggestion | None
    record: dict

    @property
    def may_auto_dispatch(self) -> bool:
        """People's choices and confident model categories may go automatically; guesses never."""
        return self.source in (CategorySource.REPORTER, CategorySource.MODEL)


def classify(*, title: str, description: str, kind: str, category: Category | str | None) -> Classification:
    """Suggest a category for the ticket text; apply it only when none was given (see module doc).

    The urgency rules (``classifier.services.assess_urgency``) read the same text; when they
    find a danger their finding is kept in the record (``"urgency"``) for the dispatcher to
    see. It never changes the ticket's urgency or deadlines: a person decides that.
    """
    result = _classify(title=title, description=description, kind=kind, category=category)
    signal = classifier_services.assess_urgency(title=title, body=description)
    if signal.level != "none":
        result.record["urgency"] = signal.as_dict()
    return result


def _classify(*, title: str, description: str, kind: str, category: Category | str | None) -> Classification:
    given = category not in (None, "")
    suggestions = model_suggestions([ticket_text(title=title, description=description)])
    suggestion = suggestions[0] if suggestions else None
    if given:
        return Classification(category, CategorySource.REPORTER, suggestion, record_of(suggestion))
    if suggestion is not None:
        live = live_choices(suggestion, kind=kind)
        if live and live[0][2] >= MIN_APPLIED_PROBABILITY:
            rank, leaf, _p = live[0]
            confident = rank == 0 and suggestion.auto
            source = CategorySource.MODEL if confident else CategorySource.MODEL_UNSURE
            if not confident:
                suggestion = replace(suggestion, decision=QUEUE)  # a guess for the queue, as recorded
            return Classification(leaf, source, suggestion, record_of(suggestion, source=source))
        # a category gone since training, or too improbable: no model suggestion (nor "auto")
        suggestion = replace(suggestion, decision=QUEUE)
    from zhiwang.tickets.selectors import keyword_suggestions

    found = keyword_suggestions(text=f"{title} {description}", kind=kind, limit=1)
    if found:
        source = CategorySource.KEYWORDS
        return Classification(found[0].category, source, suggestion, record_of(suggestion, source=source))
    return Classification(None, CategorySource.REPORTER, suggestion, record_of(suggestion))
