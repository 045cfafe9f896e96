"""Seed values: the default mapping templates (Chinese headers → fields) and eligibility rules.

Both live in tables an administrator edits; these are only the first rows
(``0002_seed`` migration, the demo, and ``mapping_templates_ensure``).
"""

from __future__ import annotations

#: name → (record kind, {header: field})
DEFAULT_TEMPLATES = {
    "公安实有人口": (
        "person",
        {
            "公民身份号码": "id_number",
            "身份证号码": "id_number",
            "身份证号": "id_number",
            "姓名": "name",
            "人口类型": "household_type",
            "户籍类型": "household_type",
            "联系电话": "phone",
            "手机号码": "phone",
            "现住址": "address",
            "居住地址": "address",
            "入住日期": "since",
            "民族": "ethnicity",
            "户籍地址": "household_address",
            "出生日期": "birth_date",
            "性别": "gender",
        },
    ),
    "市场监管法人": (
        "entity",
        {
            "统一社会信用代码": "credit_code",
            "信用代码": "credit_code",
            "企业名称": "name",
            "名称": "name",
            "主体类型": "entity_type",
            "企业类型": "entity_type",
            "法定代表人": "legal_representative",
            "负责人": "legal_representative",
            "行业": "industry",
            "所属行业": "industry",
            "联系电话": "phone",
            "经营场所": "address",
            "住所": "address",
            # The founding date is the entity's, not the start at an address (an operation's since).
            "成立日期": "founded_on",
        },
    ),
    "住建房屋": (
        "housing",
        {
            "房屋地址": "address",
            "地址": "address",
            "房屋用途": "use",
            "用途": "use",
            "产权人": "owner_name",
            "业主": "owner_name",
            "产权人电话": "owner_phone",
            "是否出租": "is_rental",
            "居住情况": "occupancy",
            "使用情况": "occupancy",
            "建筑面积": "area_m2",
            "面积": "area_m2",
        },
    ),
}

#: (service, description, min_age) — the seeds' example: turning 70 here → elderly allowance.
DEFAULT_RULES = [
    ("高龄津贴", "深圳户籍老年人年满70周岁可申领高龄津贴。", 70, "registered"),
]


def seed_defaults(*, MappingTemplate, EligibilityRule) -> None:
    """Create the default templates and rules that do not exist yet (models passed in for migrations)."""
    for name, (kind, columns) in DEFAULT_TEMPLATES.items():
        MappingTemplate.objects.get_or_create(name=name, defaults={"kind": kind, "columns": columns})
    for service, description, min_age, household in DEFAULT_RULES:
        EligibilityRule.objects.get_or_create(
            service=service,
            defaults={"description": description, "min_age": min_age, "household_type": household},
        )
