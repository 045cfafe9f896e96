"""Which eligibility rules people meet today (age from the birth date, tags, household type, place).

A rule about a sensitive key group (serious mental disorder, community correction, key
petitioner) tells who belongs to it: it is shown only to the roles that see those tags
(``SENSITIVE_TAG_ROLES``), each such suggestion logged, and never when no user is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from zhiwang.geo.models import Division
from zhiwang.registry.models import SENSITIVE_KEY_GROUPS, EligibilityRule, Person, PersonTag
from zhiwang.registry.selectors.common import _current
from zhiwang.registry.selectors.people import may_see_sensitive
from zhiwang.registry.services.audit import sensitive_read_logged


@dataclass(frozen=True)
class Suggestion:
    rule: EligibilityRule
    person: Person
    reason: str


def _rules() -> list[EligibilityRule]:
    return list(EligibilityRule.objects.filter(is_active=True).select_related("division"))


def _rule_matches(
    rule: EligibilityRule, person: Person, tags: set[str], community_code: str | None, today: date
) -> bool:
    age = person.age_on(today)
    if rule.min_age is not None and age < rule.min_age:
        return False
    if rule.max_age is not None and age > rule.max_age:
        return False
    if rule.gender and person.gender != rule.gender:
        return False
    if rule.household_type and person.household_type != rule.household_type:
        return False
    if rule.key_group and rule.key_group not in tags:
        return False
    if rule.division_id is not None:
        if community_code is None or not community_code.startswith(rule.division.code_prefix):
            return False
    return True


def eligibility_for_people(
    *, people: list[Person], today: date | None = None, user=None
) -> dict[int, list[EligibilityRule]]:
    """Which active rules each person meets today (age from the birth date, tags, household type, place).

    Rules about a sensitive key group count only for a ``user`` whose role sees those groups
    (and each person they are shown for is logged); without ``user`` they are left out.
    """
    today = today or timezone.localdate()
    sensitive_allowed = user is not None and may_see_sensitive(user)
    rules = [r for r in _rules() if sensitive_allowed or r.key_group not in SENSITIVE_KEY_GROUPS]
    if not rules or not people:
        return {}
    tags: dict[int, set[str]] = {}
    for person_id, group in _current(PersonTag.objects.filter(person__in=[p.pk for p in people])).values_list(
        "person_id", "group"
    ):
        tags.setdefault(person_id, set()).add(group)
    communities = dict(
        Division.objects.filter(pk__in={p.community_id for p in people if p.community_id}).values_list(
            "pk", "code"
        )
    )
    answer: dict[int, list[EligibilityRule]] = {}
    for person in people:
        matched = [
            r
            for r in rules
            if _rule_matches(
                r, person, tags.get(person.pk, set()), communities.get(person.community_id), today
            )
        ]
        if matched:
            answer[person.pk] = matched
    if sensitive_allowed:
        shown = {
            pk: {r.key_group for r in matched if r.key_group in SENSITIVE_KEY_GROUPS}
            for pk, matched in answer.items()
        }
        sensitive_read_logged(user=user, groups_by_person=shown, via="eligibility")
    return answer


def person_eligibility(*, user, person: Person, today: date | None = None) -> list[EligibilityRule]:
    return eligibility_for_people(people=[person], today=today, user=user).get(person.pk, [])
