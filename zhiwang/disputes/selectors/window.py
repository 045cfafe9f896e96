"""The one-stop window: the centres a user works at or supervises, their queues and visits."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from zhiwang.disputes.models import FunctionArea, ServiceCentre, Visit, VisitStatus
from zhiwang.disputes.workflow import role_of


def centres_for(*, user) -> QuerySet[ServiceCentre]:
    """Centres the user works at (a window operator: theirs) or supervises."""
    role = role_of(user)
    qs = ServiceCentre.objects.filter(is_active=True).select_related("division", "org_unit")
    if role == "administrator":
        return qs
    if role == "intake_operator":
        return qs.filter(org_unit_id=user.org_unit_id) if user.org_unit_id else qs.none()
    if role in ("dispatcher", "leader", "mediator"):
        return qs.visible_to(user)
    return qs.none()


def may_use_window(user) -> bool:
    """Whether the window page has anything for ``user``: a centre they work at or supervise."""
    return centres_for(user=user).exists()


def area_queues(*, user, centre: ServiceCentre) -> list[dict]:
    """Each active function area of a centre with its waiting and served visits (oldest first)."""
    if not centres_for(user=user).filter(pk=centre.pk).exists():
        raise Http404(centre.pk)
    visits = list(
        Visit.objects.filter(centre=centre, status__in=(VisitStatus.WAITING, VisitStatus.SERVING))
        .select_related("visitor", "area", "centre", "centre__division")  # permissions read the centre
        .order_by("registered_at", "pk")
    )
    queues = []
    for area in FunctionArea.objects.filter(is_active=True):
        mine = [v for v in visits if v.area_id == area.pk]
        queues.append(
            {"area": area, "visits": mine, "waiting": sum(v.status == VisitStatus.WAITING for v in mine)}
        )
    return queues


def visit_get(*, user, number: str) -> Visit:
    visit = (
        Visit.objects.filter(centre__in=centres_for(user=user), number=(number or "").strip().upper())
        .select_related("visitor", "area", "centre", "centre__division")
        .first()
    )
    if visit is None:
        raise Http404(number)
    return visit


def area_choices():
    return FunctionArea.objects.filter(is_active=True)
