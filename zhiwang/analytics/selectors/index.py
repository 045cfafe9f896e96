"""The governance index (治理指数) as the viewer may read it: the months computed, one month's ranking."""

from __future__ import annotations

from datetime import date

from zhiwang.analytics.selectors.place import require_analyst


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
    """The index of one month (default: the latest) and level, ranked, within the jurisdiction."""
    from zhiwang.analytics.models import GovernanceIndex

    require_analyst(user)
    qs = GovernanceIndex.objects.visible_to(user).filter(level=level)
    if month is None:
        month = qs.order_by("-month").values_list("month", flat=True).first()
    if month is None:
        return [], None
    return list(
        qs.filter(month=month.replace(day=1)).select_related("division").order_by("rank", "division__code")
    ), month
