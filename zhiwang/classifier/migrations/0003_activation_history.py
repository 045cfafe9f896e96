"""The promotion history (``ModelActivation``), and model origins kept as data, not as notes.

Existing installs: each name's models that were ever in use are chained in the order of
their last promotion (what a rollback walks back through from now on), and notes the
platform itself wrote ("Retrained from 210 labelled tickets", the demo's note, "Rolled
back", in English or Chinese) become ``metrics["origin"]`` or are cleared: ``note`` is
left to what people write.
"""

import re

import django.db.models.deletion
from django.db import migrations, models

_RETRAINED = (
    re.compile(r"^Retrained from (\d+) labelled tickets$"),
    re.compile(r"^基于\s*(\d+)\s*条已标注工单重新训练$"),
)
_DEMO_NOTES = {"demo: synthetic requests of the demo city"}
_ROLLED_BACK_NOTES = {"Rolled back", "已回滚"}


def _origin(note: str) -> dict | None:
    for pattern in _RETRAINED:
        match = pattern.match(note)
        if match:
            return {"code": "retrained", "count": int(match.group(1))}
    if note in _DEMO_NOTES:
        return {"code": "demo"}
    return None


def forwards(apps, schema_editor):
    ClassifierModel = apps.get_model("classifier", "ClassifierModel")
    ModelActivation = apps.get_model("classifier", "ModelActivation")
    for model in ClassifierModel.objects.exclude(note=""):
        note = model.note.strip()
        origin = _origin(note)
        if origin is None and note not in _ROLLED_BACK_NOTES:
            continue  # a person's note
        if origin is not None and "origin" not in (model.metrics or {}):
            model.metrics = {**(model.metrics or {}), "origin": origin}
        model.note = ""
        model.save(update_fields=["metrics", "note"])
    names = ClassifierModel.objects.values_list("name", flat=True).distinct()
    for name in names:
        if ModelActivation.objects.filter(name=name).exists():
            continue
        used = list(
            ClassifierModel.objects.filter(name=name, promoted_at__isnull=False).order_by("promoted_at", "version")
        )
        previous = None
        for index, model in enumerate(used):
            following = used[index + 1] if index + 1 < len(used) else None
            ended_at, ended_by = None, ""
            if model.status != "active":
                if following is not None:
                    ended_at, ended_by = following.promoted_at, "replaced"
                else:
                    ended_at, ended_by = model.retired_at or model.promoted_at, "retired"
            previous = ModelActivation.objects.create(
                name=name,
                model=model,
                via="promote",
                activated_at=model.promoted_at,
                ended_at=ended_at,
                ended_by=ended_by,
                previous=previous,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("classifier", "0002_threshold_range"),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelActivation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=64, verbose_name="name")),
                (
                    "via",
                    models.CharField(
                        choices=[("promote", "Promoted"), ("rollback", "Restored by a rollback")],
                        max_length=16,
                        verbose_name="how it came into use",
                    ),
                ),
                ("activated_at", models.DateTimeField(verbose_name="in use from")),
                ("ended_at", models.DateTimeField(blank=True, null=True, verbose_name="in use until")),
                (
                    "ended_by",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("replaced", "Replaced by another model"),
                            ("rolled_back", "Rolled back"),
                            ("retired", "Switched off"),
                        ],
                        max_length=16,
                        verbose_name="how its use ended",
                    ),
                ),
                (
                    "model",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="activations",
                        to="classifier.classifiermodel",
                        verbose_name="model",
                    ),
                ),
                (
                    "previous",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="classifier.modelactivation",
                        verbose_name="a rollback returns to",
                    ),
                ),
            ],
            options={
                "verbose_name": "model activation",
                "verbose_name_plural": "model activations",
                "ordering": ["activated_at", "pk"],
                "indexes": [models.Index(fields=["name", "ended_at"], name="classifier_activation_open_idx")],
            },
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
