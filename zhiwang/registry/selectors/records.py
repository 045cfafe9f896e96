"""Reads about records of any kind: the change history, the access log, the registry home page totals."""

from __future__ import annotations

from django.db.models import Min, QuerySet, Sum

from zhiwang.registry.models import AccessLog, Housing, LegalEntity, RecordChange, RegistryTotals
from zhiwang.registry.selectors.people import person_visible
from zhiwang.registry.services import role_of
from zhiwang.registry.services.audit import (
    REGISTER_NEW_ACTION,
    REGISTER_REFERRED_ACTION,
    REGISTER_REFUSED_ACTION,
)


def record_history(*, user, kind: str, record_id: int) -> QuerySet[RecordChange]:
    """The change history of one record (the caller has already fetched the record through its scope)."""
    return (
        RecordChange.objects.filter(record_kind=kind, record_id=record_id)
        .select_related("actor", "source", "import_batch")
        .order_by("-at", "-pk")
    )


#: Access log rows that are registrations of the record's number, not reads of its data.
REGISTRATION_ACTIONS = (REGISTER_NEW_ACTION, REGISTER_REFERRED_ACTION, REGISTER_REFUSED_ACTION)


def access_log(*, user, kind: str, record_id: int, registrations: bool | None = None) -> QuerySet[AccessLog]:
    """The access log of one record; only data stewards and administrators read it.

    ``registrations``: ``False`` — the reads (full views and exports, searches by ID number or
    phone, reads of sensitive key groups); ``True`` — the registrations of its number by callers
    who could not see it (new, kept for a data steward, refused), which show nobody its data;
    ``None`` — both."""
    if role_of(user) not in ("data_steward", "administrator"):
        return AccessLog.objects.none()
    rows = AccessLog.objects.filter(record_kind=kind, record_id=record_id)
    if registrations is True:
        rows = rows.filter(action__in=REGISTRATION_ACTIONS)
    elif registrations is False:
        rows = rows.exclude(action__in=REGISTRATION_ACTIONS)
    return rows.select_related("actor").order_by("-at")


def counts(*, user) -> dict:
    """Totals for the registry home page (scoped), with ``as_of`` when they come from ``RegistryTotals``.

    The stored totals per (community, grid) are scoped like the records they count, so the
    sum is what counting the visible records would give at ``as_of`` (counting 18 M people
    live takes seconds). Before the first refresh the counts are live (``as_of`` None).
    """
    if not RegistryTotals.objects.exists():
        return {
            "people": person_visible(user=user).count(),
            "entities": LegalEntity.objects.visible_to(user).count(),
            "housing": Housing.objects.visible_to(user).count(),
            "rentals": Housing.objects.visible_to(user).filter(is_rental=True).count(),
            "as_of": None,
        }
    totals = RegistryTotals.objects.visible_to(user).aggregate(
        people=Sum("people"), entities=Sum("entities"), housing=Sum("housing"), rentals=Sum("rentals")
    )
    result = {key: value or 0 for key, value in totals.items()}
    result["as_of"] = RegistryTotals.objects.aggregate(at=Min("computed_at"))["at"]
    return result
