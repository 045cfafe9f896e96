"""Two promotes (or rollbacks) of one model name at the same time (PostgreSQL: real row locks).

Before the fix each promote locked only its own row and the rows active when it looked:
the second one retired nothing (the first one's model was not committed yet) and hit the
one-active-per-name constraint, an IntegrityError and a 500 on the smart-dispatch page.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from tests.threads import run_in_threads
from zhiwang.classifier import services
from zhiwang.classifier.models import ClassifierModel, ModelStatus

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


@pytest.fixture
def saved(trained, tmp_path):
    return trained.save(tmp_path / "trained")


def run_together(*works) -> list[str]:
    """The errors the works raised, each run in its own thread (``tests.threads``)."""
    return [repr(r) for r in run_in_threads(*works, start_together=False) if isinstance(r, Exception)]


def test_concurrent_promotes_of_one_name_run_one_after_the_other(saved, model_dir, monkeypatch):
    current = services.model_promote(model=services.model_register(name="category", directory=saved))
    a = services.model_register(name="category", directory=saved)
    b = services.model_register(name="category", directory=saved)
    real_load = services.load_model

    def slow_load(model):
        loaded = real_load(model)
        if model.pk == b.pk:
            time.sleep(0.5)  # b looks for the active model while a's transaction is still open
        return loaded

    real_save = ClassifierModel.save

    def slow_save(self, *args, **kwargs):
        real_save(self, *args, **kwargs)
        if self.pk == a.pk and self.status == ModelStatus.ACTIVE:
            time.sleep(1.5)  # a commits late

    monkeypatch.setattr(services, "load_model", slow_load)
    monkeypatch.setattr(ClassifierModel, "save", slow_save)
    errors = run_together(lambda: services.model_promote(model=a), lambda: services.model_promote(model=b))
    assert errors == []
    statuses = dict(ClassifierModel.objects.values_list("pk", "status"))
    assert list(statuses.values()).count(ModelStatus.ACTIVE) == 1
    assert statuses[current.pk] == ModelStatus.RETIRED
    assert {statuses[a.pk], statuses[b.pk]} == {ModelStatus.ACTIVE, ModelStatus.RETIRED}


def test_a_promote_and_a_rollback_at_the_same_time(saved, model_dir, monkeypatch):
    services.model_promote(model=services.model_register(name="category", directory=saved))
    services.model_promote(model=services.model_register(name="category", directory=saved))
    candidate = services.model_register(name="category", directory=saved)
    real_save = ClassifierModel.save

    def slow_save(self, *args, **kwargs):
        real_save(self, *args, **kwargs)
        if self.status == ModelStatus.ACTIVE:
            time.sleep(0.5)

    monkeypatch.setattr(ClassifierModel, "save", slow_save)
    errors = run_together(
        lambda: services.model_promote(model=candidate), lambda: services.model_rollback(name="category")
    )
    assert errors == []
    assert ClassifierModel.objects.filter(status=ModelStatus.ACTIVE).count() == 1
