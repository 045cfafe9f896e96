"""Every write of the registry: one function per use case, in one transaction, with history.

Records are keyed by their natural keys (the keyed hash of the ID number, the credit
code, the standard address). Every create and change appends a ``RecordChange`` row;
every unmasked view appends an ``AccessLog`` row. The import pipeline
(``registry.imports``) uses the same helpers in bulk.

The writes live in modules by subject (access, history, places, registering, people, residences,
entities, housing, eligibility, conflicts, reviews); import them from here.
"""

from zhiwang.registry.services.access import (
    EDIT_ROLES,
    IMPORT_ROLES,
    READER_ROLES,
    REVEAL_ROLES,
    in_scope,
    may_edit,
    may_import,
    may_read,
    may_reveal,
    not_found,
    role_of,
)
from zhiwang.registry.services.conflicts import ConflictSettled, merge_conflict_resolve
from zhiwang.registry.services.eligibility import eligibility_rule_save
from zhiwang.registry.services.entities import entity_correct, entity_locate, entity_register
from zhiwang.registry.services.history import (
    CONFLICT_FIELDS,
    ENTITY_FIELDS,
    HOUSING_FIELDS,
    PERSON_FIELDS,
    ValueSource,
    change_row,
    diff,
    record_confirm,
    value_sources,
)
from zhiwang.registry.services.housing import housing_correct, housing_register
from zhiwang.registry.services.people import (
    person_correct,
    person_move,
    person_move_out,
    person_register,
    person_reveal,
    person_tag,
)
from zhiwang.registry.services.places import resolve_address
from zhiwang.registry.services.registering import RegistrationReferred, sees_whole_city
from zhiwang.registry.services.residences import CORRECT_RESIDENCE, person_residence_correct
from zhiwang.registry.services.reviews import (
    ReviewPreview,
    registration_review_resolve,
    review_differences,
    review_previews,
)

__all__ = [
    "CONFLICT_FIELDS",
    "CORRECT_RESIDENCE",
    "ConflictSettled",
    "EDIT_ROLES",
    "ENTITY_FIELDS",
    "HOUSING_FIELDS",
    "IMPORT_ROLES",
    "PERSON_FIELDS",
    "RegistrationReferred",
    "READER_ROLES",
    "REVEAL_ROLES",
    "ValueSource",
    "change_row",
    "diff",
    "eligibility_rule_save",
    "entity_correct",
    "entity_locate",
    "entity_register",
    "housing_correct",
    "housing_register",
    "in_scope",
    "may_edit",
    "may_import",
    "may_read",
    "may_reveal",
    "merge_conflict_resolve",
    "not_found",
    "person_correct",
    "person_move",
    "person_move_out",
    "person_register",
    "person_residence_correct",
    "person_reveal",
    "person_tag",
    "record_confirm",
    "registration_review_resolve",
    "resolve_address",
    "review_differences",
    "review_previews",
    "ReviewPreview",
    "role_of",
    "sees_whole_city",
    "value_sources",
]
