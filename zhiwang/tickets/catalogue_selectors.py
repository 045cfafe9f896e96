"""Reads of the category catalogue and the handling units: lists, suggestions, unit choices.

Part of ``tickets.selectors`` (which imports every name from here).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.tickets.cache import routing_config
from zhiwang.tickets.explanations import deadline_text
from zhiwang.tickets.models import Category, Ticket


def category_list(*, kind: str = "", active_only: bool = True) -> list[Category]:
    """The catalogue in tree order (parents before children), with ``depth`` and ``is_leaf`` set."""
    nodes = list(Category.objects.filter(is_active=True) if active_only else Category.objects.all())
    children: dict[int | None, list[Category]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    ordered: list[Category] = []

    def walk(parent_id, depth):
        for node in sorted(children.get(parent_id, ()), key=lambda c: (c.sort_order, c.code)):
            node.depth = depth
            node.is_leaf = node.pk not in children
            node.parent_code = None
            ordered.append(node)
            walk(node.pk, depth + 1)

    walk(None, 0)
    codes = {node.pk: node.code for node in ordered}
    for node in ordered:
        node.parent_code = codes.get(node.parent_id)
    if kind:
        ordered = [n for n in ordered if not n.kinds or kind in n.kinds]
    return ordered


@dataclass(frozen=True)
class CategorySuggestion:
    """One suggested leaf category, with hints for the intake form.

    ``source`` is ``model`` (``confidence`` is the classifier's calibrated probability)
    or ``keywords`` (``score`` 0–1 against the best keyword match; no confidence).
    ``kinds`` are the kinds the category is used for, ``unit`` the handling unit (or tier)
    its routing rule names, in words (``unit_code`` the unit's code, or ``unit_tier`` the
    division tier whose office handles it), ``deadline`` its time limit in words
    ("2 working days"; ``deadline_amount`` and ``deadline_unit`` the same as data),
    ``urgency`` "urgent" when the category's own limit is counted in hours.
    """

    category: Category
    score: float
    path: str
    source: str = "keywords"
    confidence: float | None = None
    kinds: tuple[str, ...] = ()
    unit: str = ""
    unit_code: str = ""
    unit_tier: str = ""
    deadline: str = ""
    deadline_amount: float | None = None
    deadline_unit: str = ""
    urgency: str = ""
    auto: bool = False

    @property
    def percent(self) -> int | None:
        return None if self.confidence is None else round(100 * self.confidence)


def category_name(code: str) -> str | None:
    """The name of the category with ``code`` (inactive ones too: the ticket list filters by
    them), or ``None`` for a code the catalogue does not have. The catalogue is public to staff,
    so no scope applies."""
    return Category.objects.filter(code=code).values_list("name", flat=True).first()


def _path(category: Category) -> str:
    names, node = [], category
    while node is not None:
        names.append(node.name)
        node = node.parent
    return " / ".join(reversed(names))


def _unit_hint(category: Category) -> dict:
    """The unit (or tier) the most specific city-wide rule for the category names: in words
    (``unit``) and as data (``unit_code``, or ``unit_tier``)."""
    from zhiwang.tickets.routing import category_chain

    config = routing_config()
    for category_id in category_chain(config.category(category.pk)):
        for rule in config.rules.get(category_id, ()):
            if rule.unit_id and rule.unit_id in config.units:
                unit = config.units[rule.unit_id]
                return {"unit": unit.name, "unit_code": unit.code}
            if rule.tier:
                return {
                    "unit": _("%(tier)s office") % {"tier": rule.get_tier_display()},
                    "unit_tier": rule.tier,
                }
    return {}


def _hints(category: Category) -> dict:
    limited = bool(category.deadline_amount and category.deadline_unit)
    return {
        "kinds": tuple(category.kinds or ()),
        **_unit_hint(category),
        "deadline": deadline_text(category.deadline_amount, category.deadline_unit) if limited else "",
        "deadline_amount": float(category.deadline_amount) if limited else None,
        "deadline_unit": category.deadline_unit if limited else "",
        "urgency": "urgent" if category.deadline_unit == "working_hours" else "",
    }


#: The most of a text the suggestions read: a ticket's title and description at their longest.
#: Beyond it a text is cut (the as-you-type panels) or refused (the API), so a pasted book
#: costs no more than the longest ticket.
#: Catch-all leaves ("其他"): no words of their own, so keyword suggestions never name them and
#: the demo model and the drift check leave them to people.
CATCH_ALL_NAMES = ("其他", "其它")

SUGGEST_TEXT_LENGTH = 4200

#: A classifier suggestion below this confidence is not offered (the forms, the API): "2 %" is no
#: help to a citizen, an operator or another system, only noise between the useful ones. Keyword
#: matches carry no confidence and stay.
SUGGESTION_FLOOR = 0.05


def shown_suggestions(suggestions) -> list:
    """The suggestions worth offering: the classifier's at ``SUGGESTION_FLOOR`` or above, and
    keyword matches (no confidence)."""
    return [s for s in suggestions if s.confidence is None or s.confidence >= SUGGESTION_FLOOR]


def category_suggestions(*, text: str, kind: str = "", limit: int = 5) -> list[CategorySuggestion]:
    """The classifier's suggestions first (with confidence), then keyword matches, best first.

    Used by the intake page's as-you-type panel, the citizen form and
    ``GET /api/v1/tickets/categories/suggest``. With no active model only keyword
    matches come back. A category appears once (as the model's, when it suggested it). The
    model's suggestions below ``SUGGESTION_FLOOR`` are left out (the category may still come
    back as a keyword match).
    """
    from zhiwang.tickets.classify import live_choices, model_suggestions

    text = (text or "")[: 2 * SUGGEST_TEXT_LENGTH]  # room for runs of spaces before they are folded
    cleaned = " ".join(text.split())[:SUGGEST_TEXT_LENGTH]
    out: list[CategorySuggestion] = []
    seen: set[int] = set()
    if len(cleaned.replace(" ", "")) >= 2:
        for suggestion in model_suggestions([cleaned], top_k=max(limit, 3)):
            # none when the model's top label is a category deactivated since training
            for rank, leaf, probability in live_choices(suggestion, kind=kind):
                if leaf.pk in seen or float(probability) < SUGGESTION_FLOOR:
                    continue
                seen.add(leaf.pk)
                out.append(
                    CategorySuggestion(
                        leaf,
                        round(float(probability), 3),
                        _path(leaf),
                        source="model",
                        confidence=float(probability),
                        auto=rank == 0 and suggestion.auto,
                        **_hints(leaf),
                    )
                )
    for found in keyword_suggestions(text=cleaned, kind=kind, limit=limit):
        if found.category.pk not in seen and len(out) < limit + 3:
            seen.add(found.category.pk)
            out.append(
                CategorySuggestion(
                    found.category, found.score, found.path, source="keywords", **_hints(found.category)
                )
            )
    return out[: max(limit, 1)]


def keyword_suggestions(*, text: str, kind: str = "", limit: int = 5) -> list[CategorySuggestion]:
    """Leaves whose keywords or names occur in ``text``, best first (no model needed).

    A keyword hit scores 3, a name hit 2; hits on a leaf count double, hits on its
    ancestors count once. Scores are normalized to 0–1 against the best one.
    """
    text = "".join((text or "").split())
    if len(text) < 2:
        return []
    nodes = category_list(kind=kind)
    by_pk = {n.pk: n for n in Category.objects.filter(is_active=True)}
    raw: dict[int, int] = {}
    for node in by_pk.values():
        score = sum(3 for k in node.keywords.split(",") if k.strip() and k.strip() in text)
        if len(node.name) >= 2 and node.name not in CATCH_ALL_NAMES and node.name in text:
            score += 2
        if score:
            raw[node.pk] = score
    if not raw:
        return []
    ranked = []
    for leaf in (n for n in nodes if n.is_leaf):
        score, chain, node = 2 * raw.get(leaf.pk, 0), [], by_pk.get(leaf.parent_id)
        while node is not None:
            score += raw.get(node.pk, 0)
            chain.append(node.name)
            node = by_pk.get(node.parent_id)
        if score:
            ranked.append((score, leaf, " / ".join([*reversed(chain), leaf.name])))
    if not ranked:  # hits only on categories not used for this kind
        return []
    ranked.sort(key=lambda item: (-item[0], item[1].sort_order, item[1].code))
    best = ranked[0][0]
    return [CategorySuggestion(leaf, round(score / best, 3), path) for score, leaf, path in ranked[:limit]]


def classification_view(ticket: Ticket) -> dict:
    """What the classifier said about ``ticket``, for the dispatcher: model, decision, top choices.

    ``{"model", "decision", "thin", "inactive_labels", "source", "source_label", "choices":
    [{"code", "name", "path", "confidence", "percent", "chosen"}]}``; ``{}`` when no model
    looked at it. Names come
    from the routing snapshot (no query).
    """
    from zhiwang.tickets.classify import leaf_by_code

    record = ticket.classification or {}
    urgency = _urgency_view(record.get("urgency"))
    if not record.get("choices"):
        return {"urgency": urgency} if urgency else {}
    choices = []
    for code, confidence in record["choices"]:
        leaf = leaf_by_code(code)
        choices.append(
            {
                "code": code,
                "name": leaf.name if leaf else code,
                "path": _path(leaf) if leaf else code,
                "confidence": float(confidence),
                "percent": round(100 * float(confidence)),
                "chosen": code == ticket.category.code,
            }
        )
    return {
        "model": record.get("model", ""),
        "decision": record.get("decision", ""),
        # why a confident answer still waited: too few known words, or a category since switched off
        "thin": bool(record.get("thin")),
        "inactive_labels": list(record.get("inactive_labels") or ()),
        "source": ticket.category_source,
        "source_label": str(ticket.get_category_source_display()),
        "choices": choices,
        "urgency": urgency,
    }


def _urgency_view(found: dict | None) -> dict | None:
    """The urgency rules' finding kept at submit, with reasons in the reader's language."""
    if not found or found.get("level") in (None, "none"):
        return None
    from zhiwang.classifier.ml.urgency import reason_label

    return {
        "level": found["level"],
        "reasons": [
            {"label": reason_label(r.get("code", "")), "phrase": r.get("phrase", "")}
            for r in found.get("reasons", [])
        ],
    }


#: The longest search text a list takes (SQLite refuses LIKE patterns of 50,000 bytes and more).
MAX_SEARCH_LENGTH = 200


def search_text(value: str | None, field: str = "q", limit: int = MAX_SEARCH_LENGTH) -> str:
    """``value`` stripped, or ``ServiceError`` ``tickets.<field>_long`` (``tickets.q_long`` for the
    lists' search) when longer than ``limit`` characters."""
    text = (value or "").strip()
    if len(text) > limit:
        raise ServiceError(
            f"tickets.{field}_long",
            _("At most %(limit)s characters, please (%(length)s given).")
            % {"limit": f"{limit:,}", "length": f"{len(text):,}"},
            field=field,
        )
    return text


HANDLING_UNIT_KINDS = (
    OrgUnitKind.DEPARTMENT,
    OrgUnitKind.DIVISION_OFFICE,
    OrgUnitKind.GRID_STATION,
    OrgUnitKind.SERVICE_CENTER,
    OrgUnitKind.OTHER,
)


def handling_unit_choices(*, user, q: str = "") -> QuerySet[OrgUnit]:
    """Units a dispatcher may send tickets to: active handling units serving a division in
    their jurisdiction, or the whole city."""
    scope = scope_of(user)
    qs = OrgUnit.objects.filter(is_active=True, kind__in=HANDLING_UNIT_KINDS).select_related("division")
    if not scope.everything:
        if scope.is_empty:
            return qs.none()
        qs = qs.filter(Q(division_id__in=scope.division_ids) | Q(division__level="city"))
    if q := search_text(q):
        qs = qs.filter(Q(name__icontains=q) | Q(code__istartswith=q))
    return qs.order_by("division__code", "code")
