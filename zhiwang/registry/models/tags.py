"""Key-group tags (重点人群) on people, and which groups are need-to-know."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.registry.models.base import Provenance
from zhiwang.registry.models.people import Person


class KeyGroup(models.TextChoices):
    """Key groups (重点人群) for the care modules; data about them is need-to-know."""

    ELDERLY_ALONE = "elderly_alone", _("Elderly living alone")  # 独居老人
    DISABLED = "disabled", _("Person with disability")  # 残疾人
    LOW_INCOME = "low_income", _("Low-income household")  # 低保户
    LEFT_BEHIND_CHILD = "left_behind_child", _("Left-behind child")  # 留守儿童
    MENTAL_DISORDER = "mental_disorder", _("Serious mental disorder patient")  # 严重精神障碍患者
    COMMUNITY_CORRECTION = "community_correction", _("Community correction subject")  # 社区矫正对象
    KEY_PETITIONER = "key_petitioner", _("Key petitioner")  # 重点信访人员


#: Tags that only the roles caring for them may see (DOMAIN.md: need-to-know).
SENSITIVE_KEY_GROUPS = frozenset(
    {KeyGroup.MENTAL_DISORDER, KeyGroup.COMMUNITY_CORRECTION, KeyGroup.KEY_PETITIONER}
)


class PersonTag(Provenance):
    """A key-group tag on a person, with its period."""

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="tags"
    )
    group = models.CharField(_("key group"), max_length=32, choices=KeyGroup.choices)
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("key-group tag")
        verbose_name_plural = _("key-group tags")
        constraints = [models.UniqueConstraint(fields=["person", "group"], name="registry_tag_unique")]

    def __str__(self) -> str:
        return self.get_group_display()
