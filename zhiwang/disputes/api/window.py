"""The window and alerts: register a visit, the function areas' queues, a user's dispute alerts."""

from ninja import Status

from zhiwang.core.pagination import LimitOffsetPagination, paginate
from zhiwang.disputes import selectors, services
from zhiwang.disputes.api.common import registry_fields, router
from zhiwang.disputes.api.schemas import CaseAlertOut, QueueOut, VisitIn, VisitOut, ref


@router.post("/visits", response={201: VisitOut, 200: VisitOut})
def register_visit(request, payload: VisitIn):
    """Register a visitor at a window of the caller's centre; a retry with the same key answers 200."""
    from django.http import Http404

    centre = selectors.centres_for(user=request.auth).filter(pk=payload.centre).first()
    if centre is None:
        raise Http404(payload.centre)
    result = registry_fields(
        lambda: services.visit_register(
            actor=request.auth,
            centre=centre,
            area_code=payload.area,
            matter=payload.matter,
            visitor_name=payload.visitor_name,
            visitor_id_number=payload.visitor_id_number,
            visitor_phone=payload.visitor_phone,
            visitor_person=payload.visitor_registry_person_id or "",
            idempotency_key=payload.idempotency_key,
        ),
        visitor=True,
    )
    return Status(201 if result.created else 200, result.visit)


@router.get("/centres/{centre_id}/queues", response=list[QueueOut])
def queues(request, centre_id: int):
    """Each function area's queue at a centre the caller works at or supervises."""
    from django.http import Http404

    centre = selectors.centres_for(user=request.auth).filter(pk=centre_id).first()
    if centre is None:
        raise Http404(centre_id)
    return [
        {"area": ref(q["area"]), "waiting": q["waiting"], "visits": q["visits"]}
        for q in selectors.area_queues(user=request.auth, centre=centre)
    ]


@router.get("/alerts", response=list[CaseAlertOut])
@paginate(LimitOffsetPagination)
def alerts(request, unread: bool = False):
    """The caller's own alerts (red-risk reports, reminders), newest first."""
    return selectors.alerts_for(user=request.auth, unread_only=unread)
