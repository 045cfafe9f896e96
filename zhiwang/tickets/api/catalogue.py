"""The category catalogue, suggestions and handling units."""

from ninja import Schema

from zhiwang.core.pagination import LimitOffsetPagination, paginate
from zhiwang.tickets import routing_corrections as routing_review
from zhiwang.tickets import selectors
from zhiwang.tickets.api.base import (
    SIGNED_IN,
    admits,
    router,
)
from zhiwang.tickets.catalogue_selectors import SUGGEST_TEXT_LENGTH, search_text

# --- catalogue, units ------------------------------------------------------------


class CategoryOut(Schema):
    code: str
    name: str
    parent_code: str | None
    depth: int
    is_leaf: bool
    kinds: list[str]
    deadline_amount: float | None
    deadline_unit: str
    urgent_deadline_amount: float | None
    urgent_deadline_unit: str
    requires_verification: bool


@router.get("/categories", response=list[CategoryOut], summary="The category catalogue (tree order)")
@admits(SIGNED_IN)
def categories(request, kind: str = ""):
    """Every active category, parents before children; ``kind`` keeps those used for that kind."""
    return selectors.category_list(kind=kind)


class SuggestionOut(Schema):
    code: str
    name: str
    path: str
    score: float
    source: str  # "model" (calibrated confidence) or "keywords"
    confidence: float | None
    auto: bool  # the model is sure enough to dispatch automatically
    kinds: list[str]
    unit: str  # in words: a unit's name, or a tier's office ("Subdistrict office")
    unit_code: str  # the unit's code ("" when the rule names a tier)
    unit_tier: str  # the tier whose division office handles it: "subdistrict", … ("" when a unit is named)
    deadline: str  # in words, in the reader's language ("2 working days")
    deadline_amount: float | None
    deadline_unit: str  # working_hours · working_days · natural_days ("" without a limit of its own)
    urgency: str


class SuggestIn(Schema):
    text: str
    kind: str = ""
    limit: int = 5


def _category_suggest(text: str, kind: str, limit: int) -> list[dict]:
    """What both ``/categories/suggest`` answer (``POST``: the text in the body; ``GET``: in the URL)."""
    text = search_text(text, field="text", limit=SUGGEST_TEXT_LENGTH)
    return [
        {
            "code": s.category.code,
            "name": s.category.name,
            "path": s.path,
            "score": s.score,
            "source": s.source,
            "confidence": None if s.confidence is None else round(s.confidence, 4),
            "auto": s.auto,
            "kinds": list(s.kinds),
            "unit": s.unit,
            "unit_code": s.unit_code,
            "unit_tier": s.unit_tier,
            "deadline": s.deadline,
            "deadline_amount": s.deadline_amount,
            "deadline_unit": s.deadline_unit,
            "urgency": s.urgency,
        }
        for s in selectors.category_suggestions(text=text, kind=kind, limit=max(1, min(limit, 20)))
    ]


@router.post(
    "/categories/suggest",
    response=list[SuggestionOut],
    summary="Categories suggested for a text (in the body)",
)
@admits(SIGNED_IN)
def category_suggest_search(request, payload: SuggestIn):
    """The classifier's suggestions first (``confidence`` 0–1), then keyword and name matches
    (``score`` 0–1 against the best), with hints: kinds, handling unit, time limit, urgency.
    ``text`` takes at most 4,200 characters (a ticket's title and description at their longest;
    longer: 400 ``tickets.text_long``); ``limit`` 1–20. The text travels in the body: a caller's
    words may name people, places and phones, and a query string sits in proxy access logs."""
    return _category_suggest(payload.text, payload.kind, payload.limit)


@router.get(
    "/categories/suggest",
    response=list[SuggestionOut],
    summary="Categories suggested for a text (deprecated: use POST)",
    deprecated=True,
)
@admits(SIGNED_IN)
def category_suggest(request, text: str, kind: str = "", limit: int = 5):
    """The same as ``POST /categories/suggest``, kept for existing clients: the text sits in the
    URL, and so in every proxy's access log on the way."""
    return _category_suggest(text, kind, limit)


class UnitOut(Schema):
    code: str
    name: str
    kind: str
    division: str | None

    @staticmethod
    def resolve_division(obj) -> str | None:
        return obj.division.code if obj.division_id else None


@router.get("/units", response=list[UnitOut], summary="Handling units I may dispatch to")
@paginate(LimitOffsetPagination)
def units(request, q: str = ""):
    return selectors.handling_unit_choices(user=request.user, q=q)


# --- routes the dispatchers correct --------------------------------------------------------------


class CodeName(Schema):
    code: str
    name: str


class RouteCorrectionOut(Schema):
    category: CodeName
    subdistrict: CodeName | None
    suggested_unit: CodeName
    tickets: int
    moved: int
    share: float
    to_unit: CodeName
    to_count: int
    rule: int | None
    link: str


@router.get(
    "/routing/corrections",
    response=list[RouteCorrectionOut],
    summary="Routes the dispatchers keep correcting (category × subdistrict)",
)
def routing_corrections(
    request,
    days: int = routing_review.DEFAULT_DAYS,
    min_tickets: int = routing_review.DEFAULT_MIN_TICKETS,
    min_share: float = routing_review.DEFAULT_MIN_SHARE,
):
    """Per category and subdistrict, the tickets received in the last ``days`` days (1–366) that
    the routing rules sent to one unit and that mostly ended at another (dispatched elsewhere,
    reassigned, returned and dispatched again): at least ``min_tickets`` tickets, a moved share
    of at least ``min_share`` (0–1). ``rule`` is the id of the rule making the suggestion today;
    ``link`` the web list of the tickets at ``to_unit``. Most moved first, at most 200.
    Dispatchers, leaders and administrators, within their jurisdiction."""

    def ref(obj):
        return None if obj is None else {"code": obj.code, "name": obj.name}

    return [
        {
            "category": ref(c.category),
            "subdistrict": ref(c.subdistrict),
            "suggested_unit": ref(c.suggested_unit),
            "tickets": c.tickets,
            "moved": c.moved,
            "share": round(c.share, 4),
            "to_unit": ref(c.to_unit),
            "to_count": c.to_count,
            "rule": c.rule.pk if c.rule else None,
            "link": c.link,
        }
        for c in routing_review.route_corrections(
            user=request.user, days=days, min_tickets=min_tickets, min_share=min_share
        )
    ]
