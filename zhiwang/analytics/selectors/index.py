"""The governance index (治理指数) as the viewer may read it: the months computed, one month's ranking."""

from __future__ import annotations

from datetime import date

from django.db.models import F
from django.utils.translation import gettext as _

from zhiwang.analytics.selectors.place import require_analyst
from zhiwang.core.errors import ServiceError


def index_months(*, user) -> list[date]:
    from zhiwang.analytics.models import GovernanceIndex

    require_analyst(user)
    return list(
        GovernanceIndex.objects.visible_to(user)
        .order_by("-month")
        .values_list("month", flat=True)
        .distinct()[:24]
    )


def index_list(*, user, level: str = "subdistrict", month: date | None = None):
    """The index of one month (default: the latest) and level, ranked, within the jurisdiction.

    Ranked rows come first, by rank; the rows without a rank follow (``unranked_reason``: too
    few tickets, by score; no score).

    ``level`` is one the index is computed for (``analytics.index.LEVELS``), else
    ``analytics.level_unknown`` (400).
    """
    from zhiwang.analytics.index import LEVELS
    from zhiwang.analytics.models import GovernanceIndex

    require_analyst(user)
    if level not in LEVELS:
        raise ServiceError(
            "analytics.level_unknown",
            _("Choose the level: %(levels)s.") % {"levels": ", ".join(str(v) for v in LEVELS)},
            field="level",
        )
    qs = GovernanceIndex.objects.visible_to(user).filter(level=level)
    if month is None:
        month = qs.order_by("-month").values_list("month", flat=True).first()
    if month is None:
        return [], None
    # ranked first by rank; then those not ranked (too few tickets: best score first; no score
    # last), the same on SQLite and PostgreSQL (which otherwise put NULL ranks first and last)
    return list(
        qs.filter(month=month.replace(day=1))
        .select_related("division")
        .order_by(F("rank").asc(nulls_last=True), F("score").desc(nulls_last=True), "division__code")
    ), month


def shared_ranks(months, *, level: str | None = None) -> set[tuple]:
    """``(month, level, rank)`` of the ranks that equal scores share (并列), among **all** the
    city's divisions of the level, whoever reads: a rank is the city's (``governance_index_compute``
    ranks every division of a level together), so a place may share it with one outside the
    reader's jurisdiction, and the index page and the report must say "tied" alike. One grouped
    query over ``months`` (and ``level``, when given); only the counts leave the database."""
    from django.db.models import Count

    from zhiwang.analytics.models import GovernanceIndex

    months = {m for m in months if m is not None}
    if not months:
        return set()
    rows = GovernanceIndex.objects.filter(month__in=months, rank__isnull=False)
    if level is not None:
        rows = rows.filter(level=level)
    return set(
        rows.order_by()
        .values("month", "level", "rank")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("month", "level", "rank")
    )


def index_lists(rows, *, month: date | None, level: str, formula: dict) -> dict:
    """How many places the red and black lists of ``month`` and ``level`` hold, for the index page
    and the API: ``analytics.index.list_lengths`` over **all** the city's places of the level (a
    list, like a rank, is the city's: ``standings`` placed every division of the level together),
    and ``in_scope`` on each list, how many of them are among ``rows``, the viewer's
    (``index_list``). ``whole_city``: ``rows`` are every place of the level (the viewer sees the
    whole list; ``in_scope`` equals ``listed``).

    Before 2026-11-28 the lengths were counted over the viewer's rows: a Nanshan dispatcher read
    "the red list holds 1 place" of a city-wide list of 3, and a tie at the black cut was looked
    for among the worst of Nanshan alone. One query of three columns; only the standings, ranks
    and scores leave the database."""
    from types import SimpleNamespace

    from zhiwang.analytics.index import list_lengths
    from zhiwang.analytics.models import GovernanceIndex, Standing

    city = (
        [
            SimpleNamespace(score=score, rank=rank, standing=standing)
            for score, rank, standing in GovernanceIndex.objects.filter(
                month=month.replace(day=1), level=level
            ).values_list("score", "rank", "standing")
        ]
        if month is not None
        else []
    )
    lists = list_lengths(city, formula)
    for name, standing in (("red", Standing.RED), ("black", Standing.BLACK)):
        lists[name]["in_scope"] = sum(1 for r in rows if r.standing == standing)
    lists["whole_city"] = len(rows) >= len(city)
    return lists


def index_empty_state(rows, *, month: date | None, level: str) -> str:
    """Why the index page's ranking of ``month`` and ``level`` shows no place, for the viewer whose
    rows (``index_list``) are ``rows``; ``""`` when it shows one. Decided over **all** the city's
    rows of that month and level, as ranks and lists are (a Nanshan dispatcher was told "no index
    has been computed yet" of a month computed for 15 places, none of them ranked in Nanshan):

    - ``not_computed``: the city has no row of that month and level (no month: none of the level);
    - ``none_ranked``: the viewer sees the whole city's rows, none ranked (too few tickets);
    - ``none_ranked_in_scope``: rows in the viewer's jurisdiction, none ranked;
    - ``none_in_scope``: computed, but no row is in the viewer's jurisdiction.

    One query of two counts."""
    from django.db.models import Count, Q

    from zhiwang.analytics.models import GovernanceIndex

    if any(r.rank is not None for r in rows):
        return ""
    city = GovernanceIndex.objects.filter(level=level)
    if month is None:
        month = city.order_by("-month").values_list("month", flat=True).first()
        if month is None:
            return "not_computed"
    counts = city.filter(month=month.replace(day=1)).aggregate(
        computed=Count("pk"), ranked=Count("pk", filter=Q(rank__isnull=False))
    )
    if not counts["computed"]:
        return "not_computed"
    if len(rows) >= counts["computed"]:
        return "none_ranked"
    return "none_ranked_in_scope" if rows else "none_in_scope"
