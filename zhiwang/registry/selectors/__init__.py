"""Reads of the registry, always scoped to who is asking (``visible_to(user)``).

Answers carry masked values by default (the ``masked_*`` properties of the models);
the unmasked ones come only from ``services.person_reveal`` (permissioned, logged).
Search by ID number or phone hashes the query and looks the hash up: the plain
column is never scanned.

The reads live in modules by subject (people, entities, places, eligibility, batches,
records); import them from here.
"""

from zhiwang.registry.selectors.batches import (
    REPORT_PAGE_LINES,
    TemplateGuide,
    import_batch_get,
    import_batch_ids_of_file,
    import_batches,
    import_issues,
    mapping_template_get,
    mapping_template_guide,
    mapping_template_guides,
    merge_conflicts,
    source_departments,
)
from zhiwang.registry.selectors.eligibility import Suggestion, eligibility_for_people, person_eligibility
from zhiwang.registry.selectors.entities import (
    NAME_SEARCH_SCAN,
    TRIGRAM_MIN_CHARS,
    entity_get,
    entity_operations,
    entity_search,
    entity_search_is_capped,
    entity_sources,
)
from zhiwang.registry.selectors.people import (
    SENSITIVE_TAG_ROLES,
    person_get,
    person_residences,
    person_search,
    person_sources,
    person_visible,
    visible_tags,
)
from zhiwang.registry.selectors.places import (
    BuildingView,
    RoomView,
    UnitView,
    address_get,
    address_visible,
    building_of,
    building_view,
    place_search,
    room_history,
    room_view,
)
from zhiwang.registry.selectors.records import access_log, counts, record_history
from zhiwang.registry.selectors.reviews import registration_reviews, with_reviews

# Re-exported: the permission checks were always importable from the selectors too.
from zhiwang.registry.services import may_edit, may_reveal, not_found, role_of

__all__ = [
    "SENSITIVE_TAG_ROLES",
    "NAME_SEARCH_SCAN",
    "TRIGRAM_MIN_CHARS",
    "BuildingView",
    "RoomView",
    "Suggestion",
    "UnitView",
    "access_log",
    "address_get",
    "address_visible",
    "building_of",
    "building_view",
    "counts",
    "eligibility_for_people",
    "entity_get",
    "entity_operations",
    "entity_search",
    "entity_search_is_capped",
    "entity_sources",
    "import_batch_get",
    "import_batches",
    "import_issues",
    "import_batch_ids_of_file",
    "mapping_template_get",
    "mapping_template_guide",
    "mapping_template_guides",
    "REPORT_PAGE_LINES",
    "TemplateGuide",
    "may_edit",
    "may_reveal",
    "merge_conflicts",
    "not_found",
    "person_eligibility",
    "person_get",
    "registration_reviews",
    "person_residences",
    "person_search",
    "person_sources",
    "person_visible",
    "place_search",
    "record_history",
    "role_of",
    "room_history",
    "room_view",
    "source_departments",
    "visible_tags",
    "with_reviews",
]
