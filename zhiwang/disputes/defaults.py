"""The seeded values of the configurable tables (DOMAIN.md "Disputes"; the issue's 1+8+N list).

``defaults_seed`` fills ``FunctionArea`` and ``DisputeCategory`` when rows are missing and
never overwrites what an administrator changed; the data migration and the demo call it.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

#: (code, English msgid, mediation type a visit here turns into, or "")
FUNCTION_AREAS = [
    ("petition", gettext_noop("Petition reception"), ""),  # 信访接待
    ("peoples_mediation", gettext_noop("People's mediation"), "peoples"),  # 人民调解
    ("labour_mediation", gettext_noop("Labour dispute mediation"), "administrative"),  # 劳动争议调解
    ("judicial_mediation", gettext_noop("Judicial mediation"), "judicial"),  # 诉调对接
    ("legal_aid", gettext_noop("Legal aid"), ""),  # 法律援助
    ("police", gettext_noop("Police service"), ""),  # 警务服务
    ("psychological", gettext_noop("Psychological care"), ""),  # 心理服务
    ("credit", gettext_noop("Credit consultation"), ""),  # 信用咨询
]

#: Ministry of Justice statistics categories (DOMAIN.md), in its order.
CATEGORIES = [
    ("marriage_family", gettext_noop("Marriage and family")),  # 婚姻家庭
    ("neighbours", gettext_noop("Neighbours")),  # 邻里
    ("housing_homestead", gettext_noop("Housing and homestead")),  # 房屋宅基地
    ("contract", gettext_noop("Contract")),  # 合同
    ("production_business", gettext_noop("Production and business")),  # 生产经营
    ("damages", gettext_noop("Damages")),  # 损害赔偿
    ("forest_land", gettext_noop("Forest and land")),  # 山林土地
    ("land_acquisition", gettext_noop("Land acquisition and demolition")),  # 征地拆迁
    ("environment", gettext_noop("Environmental pollution")),  # 环境污染
    ("labour", gettext_noop("Labour")),  # 劳动争议
    ("consumer", gettext_noop("Consumer")),  # 消费
    ("medical", gettext_noop("Medical")),  # 医疗
    ("traffic", gettext_noop("Road traffic accident")),  # 道路交通事故
    ("property_management", gettext_noop("Property management")),  # 物业
    ("other", gettext_noop("Other")),  # 其他
]


def defaults_seed(*, FunctionArea=None, DisputeCategory=None) -> tuple[int, int]:
    """Create missing default rows (names stored in Chinese); returns (areas, categories) created.

    Model classes may be passed in (data migrations pass historical models).
    """
    from django.utils import translation
    from django.utils.translation import gettext

    if FunctionArea is None or DisputeCategory is None:
        from zhiwang.disputes import models

        FunctionArea = FunctionArea or models.FunctionArea
        DisputeCategory = DisputeCategory or models.DisputeCategory
    areas = categories = 0
    with translation.override("zh-hans"):
        for order, (code, name, mediation_type) in enumerate(FUNCTION_AREAS, start=1):
            _row, created = FunctionArea.objects.get_or_create(
                code=code,
                defaults={"name": gettext(name), "mediation_type": mediation_type, "sort_order": order},
            )
            areas += created
        for order, (code, name) in enumerate(CATEGORIES, start=1):
            _row, created = DisputeCategory.objects.get_or_create(
                code=code, defaults={"name": gettext(name), "sort_order": order}
            )
            categories += created
    return areas, categories
