"""Registry models: people, legal entities and housing, linked by standard address (see docs/registry.md).

Every record carries its provenance (source department, import batch and row, last
confirmed) and every change appends a :class:`RecordChange` row. ID numbers and
phones are looked up through a keyed hash (``registry.hashing``), never by scanning
the plain value; lists and exports show them masked.

Scoping: a person, entity or housing record belongs to the community (and grid) of its
current place, copied onto the record so ``visible_to(user)`` is one indexed filter.
A record with no known place is seen only by city-wide roles.

The models live in modules by subject (base, people, entities, housing, tags, history,
batches, eligibility, totals, reviews); import them from here.
"""

from zhiwang.registry.models.base import STAY_ORDER, Placed, Provenance, RecordKind, RegistryQuerySet
from zhiwang.registry.models.batches import (
    FINISHED_STATUSES,
    SOURCE_UNIT_KINDS,
    ImportBatch,
    ImportChunk,
    ImportIssue,
    ImportStatus,
    IssueSeverity,
    MappingTemplate,
)
from zhiwang.registry.models.eligibility import EligibilityRule
from zhiwang.registry.models.entities import EntityType, LegalEntity, Operation
from zhiwang.registry.models.history import AccessLog, EntitySource, PersonSource, RecordChange
from zhiwang.registry.models.housing import Housing, HousingUse, Occupancy
from zhiwang.registry.models.people import Gender, HouseholdType, Person, Residence, ResidenceKind
from zhiwang.registry.models.reviews import RegistrationReview, ReviewStatus
from zhiwang.registry.models.tags import SENSITIVE_KEY_GROUPS, KeyGroup, PersonTag
from zhiwang.registry.models.totals import RegistryTotals

__all__ = [
    "FINISHED_STATUSES",
    "SENSITIVE_KEY_GROUPS",
    "SOURCE_UNIT_KINDS",
    "STAY_ORDER",
    "AccessLog",
    "RegistryTotals",
    "EligibilityRule",
    "EntitySource",
    "EntityType",
    "Gender",
    "HouseholdType",
    "Housing",
    "HousingUse",
    "ImportBatch",
    "ImportChunk",
    "ImportIssue",
    "ImportStatus",
    "IssueSeverity",
    "KeyGroup",
    "LegalEntity",
    "MappingTemplate",
    "Occupancy",
    "Operation",
    "Person",
    "PersonSource",
    "PersonTag",
    "Placed",
    "Provenance",
    "RecordChange",
    "RecordKind",
    "RegistrationReview",
    "RegistryQuerySet",
    "Residence",
    "ResidenceKind",
    "ReviewStatus",
]
