"""Reads of the model registry. Models are not scoped by jurisdiction: every unit shares them."""

from __future__ import annotations

from django.db.models import QuerySet

from zhiwang.classifier.models import ClassifierModel, ModelStatus


def active_model(name: str = "category") -> ClassifierModel | None:
    """The active model of ``name``, or None (a fresh install has none)."""
    return ClassifierModel.objects.filter(name=name, status=ModelStatus.ACTIVE).first()


def model_list(*, name: str | None = None) -> QuerySet[ClassifierModel]:
    """All registered models, newest version first within each name."""
    qs = ClassifierModel.objects.all()
    if name:
        qs = qs.filter(name=name)
    return qs.order_by("name", "-version")


def previous_model(name: str = "category") -> ClassifierModel | None:
    """The model a rollback would bring back: the one retired most recently."""
    return (
        ClassifierModel.objects.filter(name=name, status=ModelStatus.RETIRED, retired_at__isnull=False)
        .order_by("-retired_at", "-version")
        .first()
    )
