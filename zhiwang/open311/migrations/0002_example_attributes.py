"""Seed example service attributes: 暴露垃圾 (GI0101, exposed rubbish) asks how much and what kind.

Skipped when the category is missing; an attribute an administrator already has with the
same code is left as it is. Editable afterwards in the admin.
"""

from django.db import migrations

EXAMPLES = {
    "GI0101": [
        {
            "code": "amount",
            "datatype": "singlevaluelist",
            "required": True,
            "order": 1,
            "description": "垃圾大约有多少？",
            "datatype_description": "选一项",
            "values": [
                {"key": "small", "name": "少量（一两袋以内）"},
                {"key": "medium", "name": "一堆（需要手推车）"},
                {"key": "large", "name": "大量（需要车辆清运）"},
            ],
        },
        {
            "code": "waste_type",
            "datatype": "multivaluelist",
            "required": False,
            "order": 2,
            "description": "是哪类垃圾？",
            "datatype_description": "可多选",
            "values": [
                {"key": "household", "name": "生活垃圾"},
                {"key": "construction", "name": "建筑垃圾"},
                {"key": "bulky", "name": "大件垃圾（家具、家电）"},
                {"key": "other", "name": "其他"},
            ],
        },
    ]
}


def seed(apps, schema_editor):
    Category = apps.get_model("tickets", "Category")
    ServiceAttribute = apps.get_model("open311", "ServiceAttribute")
    for code, attributes in EXAMPLES.items():
        category = Category.objects.filter(code=code).first()
        if category is None:
            continue
        for attribute in attributes:
            fields = dict(attribute)
            ServiceAttribute.objects.get_or_create(category=category, code=fields.pop("code"), defaults=fields)


def unseed(apps, schema_editor):
    ServiceAttribute = apps.get_model("open311", "ServiceAttribute")
    for code, attributes in EXAMPLES.items():
        ServiceAttribute.objects.filter(
            category__code=code, code__in=[a["code"] for a in attributes]
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("open311", "0001_initial"), ("tickets", "0002_default_catalogue")]

    operations = [migrations.RunPython(seed, unseed)]
