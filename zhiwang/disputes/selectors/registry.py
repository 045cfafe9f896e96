"""The person and entity registry, seen from the window and the case form (picks and links),
always through the registry's own scoping."""

from __future__ import annotations

from django.urls import reverse

from zhiwang.registry import selectors as registry_selectors
from zhiwang.registry.models import LegalEntity, Person
from zhiwang.registry.services import may_read


def may_use_registry(user) -> bool:
    """The registry's own rule for who opens it (its pages and API): a mediator does not."""
    return may_read(user)


#: The most registry records a pick list shows (the user narrows the search beyond that).
REGISTRY_PICK_LIMIT = 10


def registry_candidates(*, user, kind: str, q: str) -> list:
    """Registry people (or legal entities) matching ``q``, through the registry's own scoped
    search (name prefix, ID number or phone by keyed hash; entity name or credit code).

    Empty for a blank query or a user who may not open the registry. The records are
    rendered with their ``masked_*`` properties only.
    """
    q = (q or "").strip()
    if not q or not may_use_registry(user):
        return []
    if kind == "entity":
        return list(registry_selectors.entity_search(user=user, q=q, limit=REGISTRY_PICK_LIMIT))
    return list(registry_selectors.person_search(user=user, q=q, limit=REGISTRY_PICK_LIMIT))


def registry_picked(*, user, kind: str, pk) -> object | None:
    """The registry record a form picked (by id), as ``user`` may see it; None when it is outside
    their registry scope or gone. Used to show a pick again, masked, when the form comes back."""
    text = str(pk or "").strip()
    if not (text.isascii() and text.isdigit()) or not may_use_registry(user):
        return None
    model = LegalEntity if kind == "entity" else Person
    return model.objects.visible_to(user).filter(pk=int(text)).first()


def registry_links(*, user, records) -> dict:
    """``{(kind, pk): url}`` of the registry pages ``user`` may open among ``records``' links.

    ``records`` are parties or visitors (``person_id``, and ``entity_id`` for parties); a link
    is given only when the user's role opens registry pages and the record is in their scope.
    """
    if not may_use_registry(user):
        return {}
    person_ids = {r.person_id for r in records if getattr(r, "person_id", None)}
    entity_ids = {r.entity_id for r in records if getattr(r, "entity_id", None)}
    links = {}
    if person_ids:
        for pk in Person.objects.visible_to(user).filter(pk__in=person_ids).values_list("pk", flat=True):
            links[("person", pk)] = reverse("registry:person_detail", args=[pk])
    if entity_ids:
        for pk in LegalEntity.objects.visible_to(user).filter(pk__in=entity_ids).values_list("pk", flat=True):
            links[("entity", pk)] = reverse("registry:entity_detail", args=[pk])
    return links
