"""The model registry: register, promote, rollback, retire; suggestions with and without a model."""

from __future__ import annotations

import json

import pytest

from zhiwang.classifier import selectors, services
from zhiwang.classifier.ml import FORMAT_VERSION, METADATA_FILE
from zhiwang.classifier.models import ClassifierModel, ModelStatus
from zhiwang.core.errors import NotFound, ServiceError

pytestmark = pytest.mark.django_db


@pytest.fixture
def saved(trained, tmp_path):
    """A trained model directory outside the model folder (as `classify train` leaves it)."""
    return trained.save(tmp_path / "trained")


def test_register_copies_into_the_model_folder(saved, model_dir, trained):
    model = services.model_register(name="category", directory=saved, note="first")
    assert (model.version, model.status) == (1, ModelStatus.CANDIDATE)
    assert model.path == "category/v1"
    assert (model_dir / "category" / "v1" / METADATA_FILE).is_file()
    assert model.labels == trained.labels
    assert model.training_size == trained.metadata["training_size"]
    assert model.threshold == trained.threshold
    assert model.macro_f1 == trained.metadata["metrics"]["macro_f1"]
    assert services.model_register(name="category", directory=saved).version == 2


def test_register_refuses_other_format_versions(saved, model_dir):
    meta = json.loads((saved / METADATA_FILE).read_text(encoding="utf-8"))
    meta["format_version"] = FORMAT_VERSION + 1
    (saved / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ServiceError) as exc:
        services.model_register(name="category", directory=saved)
    assert exc.value.code == "classifier.format_version"
    assert not ClassifierModel.objects.exists()


def test_promote_keeps_one_active_and_rollback_brings_back_the_previous(saved, model_dir):
    first = services.model_register(name="category", directory=saved)
    second = services.model_register(name="category", directory=saved)
    other = services.model_register(name="urgency", directory=saved)
    services.model_promote(model=first)
    services.model_promote(model=other)
    assert selectors.active_model("category") == first

    services.model_promote(model=second)
    first.refresh_from_db()
    assert first.status == ModelStatus.RETIRED and first.retired_at is not None
    assert selectors.active_model("category") == second
    assert selectors.active_model("urgency") == other  # names are independent

    services.model_rollback(name="category")
    second.refresh_from_db()
    assert second.status == ModelStatus.RETIRED
    assert selectors.active_model("category") == first
    assert ClassifierModel.objects.filter(name="category", status=ModelStatus.ACTIVE).count() == 1


def test_promote_is_idempotent_and_rollback_needs_a_previous_model(saved, model_dir):
    model = services.model_register(name="category", directory=saved)
    with pytest.raises(NotFound):
        services.model_rollback(name="category")
    services.model_promote(model=model)
    assert services.model_promote(model=model).status == ModelStatus.ACTIVE


def test_promote_refuses_unreadable_files(saved, model_dir):
    model = services.model_register(name="category", directory=saved)
    (model.directory / "model.joblib").write_bytes(b"garbage")
    with pytest.raises(ServiceError) as exc:
        services.model_promote(model=model)
    assert exc.value.code == "classifier.model_unreadable"
    model.refresh_from_db()
    assert model.status == ModelStatus.CANDIDATE


def test_suggest_is_empty_without_an_active_model(saved, model_dir):
    assert services.suggest(["小区电梯故障"]) == []
    model = services.model_register(name="category", directory=saved)
    assert services.suggest(["小区电梯故障"]) == []  # a candidate answers nothing
    services.model_promote(model=model)
    services.model_retire(model=model)
    assert services.suggest(["小区电梯故障"]) == []


def test_suggest_with_an_active_model(saved, model_dir):
    model = services.model_promote(model=services.model_register(name="category", directory=saved))
    services.model_set_threshold(model=model, threshold=0.5)
    confident, blind = services.suggest(["燕子山社区小区电梯故障，物业不维修", ""], top_k=2)
    assert confident.label == "城乡建设" and len(confident.choices) == 2
    assert confident.decision == "auto" and confident.auto
    assert confident.model == "category v1"
    assert blind.decision == "queue"
    services.model_set_threshold(model=model, threshold=None)
    assert services.suggest(["小区电梯故障"])[0].decision == "queue"
    assert services.suggest([]) == []


def test_suggest_survives_missing_model_files(saved, model_dir):
    import shutil

    model = services.model_promote(model=services.model_register(name="category", directory=saved))
    model.version = 99  # a row the process has not cached yet
    model.save()
    shutil.rmtree(model.directory)
    assert services.suggest(["小区电梯故障"]) == []


def test_threshold_must_be_a_probability(saved, model_dir):
    model = services.model_register(name="category", directory=saved)
    with pytest.raises(ServiceError) as exc:
        services.model_set_threshold(model=model, threshold=1.5)
    assert exc.value.field == "threshold"


def test_model_train_registers_a_candidate(corpus, model_dir):
    texts, labels = corpus
    model = services.model_train(name="category", texts=texts, labels=labels, cv=0, note="from history")
    assert model.status == ModelStatus.CANDIDATE and model.path == "category/v1"
    assert model.threshold is None
    assert (model_dir / "category" / "v1" / "model.joblib").is_file()
    assert not [p for p in (model_dir / "category").iterdir() if p.name.startswith(".training")]


def test_admin_promote_action_goes_through_the_service(saved, model_dir, rf):
    from django.contrib import admin
    from django.contrib.messages.storage.fallback import FallbackStorage

    model_admin = admin.site._registry[ClassifierModel]
    model = services.model_register(name="category", directory=saved)
    request = rf.post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    model_admin.promote_selected(request, ClassifierModel.objects.filter(pk=model.pk))
    assert selectors.active_model("category") == model
    assert not model_admin.has_add_permission(request)
