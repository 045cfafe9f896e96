"""Migration classifier 0003: the promotion history of an existing install, and notes the platform wrote become origins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("classifier", "0002_threshold_range")]
AFTER = [("classifier", "0003_activation_history")]


@pytest.mark.django_db(transaction=True)
def test_existing_models_get_their_history_and_their_origins():
    apps = migrate_to(BEFORE)
    try:
        Model = apps.get_model("classifier", "ClassifierModel")
        now = timezone.now()

        def model(version, status, note, promoted=None, retired=None):
            return Model.objects.create(
                name="category",
                version=version,
                path=f"category/v{version}",
                status=status,
                note=note,
                promoted_at=promoted,
                retired_at=retired,
            )

        model(
            1,
            "retired",
            "demo: synthetic requests of the demo city",
            now - timedelta(days=9),
            now - timedelta(days=5),
        )
        model(2, "retired", "基于 210 条已标注工单重新训练", now - timedelta(days=5), now - timedelta(days=1))
        model(3, "active", "Rolled back", now - timedelta(days=1))
        model(4, "candidate", "试用：人工备注")
        apps = migrate_to(AFTER)
        Model = apps.get_model("classifier", "ClassifierModel")
        Activation = apps.get_model("classifier", "ModelActivation")
        by_version = {m.version: m for m in Model.objects.all()}
        assert by_version[1].note == "" and by_version[1].metrics["origin"] == {"code": "demo"}
        assert by_version[2].note == "" and by_version[2].metrics["origin"] == {
            "code": "retrained",
            "count": 210,
        }
        assert (
            by_version[3].note == "" and "origin" not in by_version[3].metrics
        )  # overwritten: nothing left to keep
        assert by_version[4].note == "试用：人工备注"  # a person's note stays
        chain = {a.model.version: a for a in Activation.objects.select_related("model", "previous__model")}
        assert set(chain) == {1, 2, 3}  # never in use: no history
        assert chain[3].ended_at is None and chain[3].previous.model.version == 2
        assert chain[2].previous.model.version == 1 and chain[2].ended_by == "replaced"
        assert chain[1].previous is None
    finally:
        migrate_to_latest()
