"""Words for a change history row (``registry/_history.html``): its action, the fields it names and
their coded values, in the reader's language instead of the codes stored in ``RecordChange``.

Every action ``RecordChange`` rows are written with (``services``, ``imports.writers``) and every
field their ``changes`` can name has a label here; an unknown code (a row written by a later
version, say) is shown as stored rather than hidden.
"""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy, pgettext_lazy

from zhiwang.registry.models import EntityType, HouseholdType, HousingUse, KeyGroup, Occupancy, RecordKind
from zhiwang.registry.validation import FIELDS

register = template.Library()

#: ``RecordChange.action`` → what the history column says.
ACTIONS = {
    "create": pgettext_lazy("change history", "Created"),  # 新建
    "update": pgettext_lazy("change history", "Updated on registration"),  # 登记更新
    "import": pgettext_lazy("change history", "Imported"),  # 导入
    "correct": pgettext_lazy("change history", "Corrected"),  # 更正
    "move": pgettext_lazy("change history", "Moved"),  # 迁移
    # the current residence's address (or start) was a typing mistake: no move (services.residences)
    "correct_residence": pgettext_lazy("change history", "Address corrected"),  # 更正居住地址
    "move_out": pgettext_lazy("change history", "Moved out"),  # 迁出
    "tag": pgettext_lazy("change history", "Key group added"),  # 标记重点人群
    "confirm": pgettext_lazy("change history", "Confirmed on the spot"),  # 现场核实
}

#: Fields a history row names besides the record's own (``validation.FIELDS``).
EXTRA_FIELDS = {"address": gettext_lazy("Address"), "tag": gettext_lazy("Key group")}

#: Coded values shown as words, per field.
VALUES = {
    "household_type": dict(HouseholdType.choices),
    "entity_type": dict(EntityType.choices),
    "use": dict(HousingUse.choices),
    "occupancy": dict(Occupancy.choices),
    "tag": dict(KeyGroup.choices),
    "is_rental": {"True": gettext_lazy("Yes"), "False": gettext_lazy("No")},
}


@register.filter
def history_action(code: str):
    """The words for a history row's action (``move`` → 迁移)."""
    return ACTIONS.get(code, code)


@register.filter
def history_field(name: str, kind: str = RecordKind.PERSON):
    """The label of a field a history row changed, for the record's kind (``address`` → 地址)."""
    return FIELDS.get(kind, {}).get(name) or EXTRA_FIELDS.get(name) or name


@register.filter
def history_value(value, name: str):
    """A changed value as words when it is a code (``migrant`` → 流动人口); else as stored."""
    return VALUES.get(name, {}).get(str(value), value) if value not in ("", None) else value
