"""A leftover ``v<N>`` folder in the model folder, met by a registration (copy) or a training.

Before the fix ``model_register(copy=True)`` refused when ``<name>/v<next>`` existed (e.g. left
by a copy that crashed half-way, or by an earlier database), while ``model_train`` moved such a
folder aside; and ``model_train`` moved it aside even when a registered model named it.
Both now share one rule: an unrecorded leftover is kept, renamed out of the way; a folder a
registered model names is never moved or overwritten.
"""

from __future__ import annotations

import copy

import pytest

from zhiwang.classifier import services
from zhiwang.classifier.models import ClassifierModel
from zhiwang.core.errors import ServiceError


@pytest.fixture
def quick_training(trained, monkeypatch):
    """``model_train`` gets a copy of the session's model instead of training again."""
    monkeypatch.setattr(services, "train", lambda texts, labels, **options: copy.deepcopy(trained))


def _folders(model_dir, name="category") -> list[str]:
    return sorted(p.name for p in (model_dir / name).iterdir())


def _leftover(model_dir, folder="v1"):
    """Given a half-copied folder no row names (a crashed copy)."""
    (model_dir / "category" / folder).mkdir(parents=True)
    (model_dir / "category" / folder / "half.bin").write_text("half")


@pytest.mark.django_db
def test_a_registration_moves_an_unrecorded_leftover_aside(trained, model_dir, tmp_path):
    _leftover(model_dir)
    elsewhere = trained.save(tmp_path / "elsewhere")

    model = services.model_register(name="category", directory=elsewhere)

    assert model.version == 1 and model.directory == model_dir / "category" / "v1"
    services.load_model(model)  # the row loads the copied model, not the leftover
    folders = _folders(model_dir)
    assert len(folders) == 2 and folders[0] == "v1" and folders[1].startswith("v1.orphaned-")
    assert (model_dir / "category" / folders[1] / "half.bin").read_text() == "half"  # kept


@pytest.mark.django_db
def test_registration_and_training_treat_a_leftover_alike(quick_training, trained, model_dir, tmp_path):
    _leftover(model_dir, "v1")
    _leftover(model_dir, "v2")

    registered = services.model_register(name="category", directory=trained.save(tmp_path / "elsewhere"))
    trained_model = services.model_train(name="category", texts=["x"], labels=["y"], cv=0)

    assert [registered.version, trained_model.version] == [1, 2]
    folders = _folders(model_dir)
    assert [f for f in folders if not f.startswith(("v1.orphaned-", "v2.orphaned-"))] == ["v1", "v2"]
    assert len(folders) == 4


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["register", "train"])
def test_a_folder_a_registered_model_names_is_never_moved(how, quick_training, trained, model_dir, tmp_path):
    # a model registered in place, from inside the model folder, under the next version's folder name
    in_place = trained.save(model_dir / "category" / "v2")
    first = services.model_register(name="category", directory=in_place, copy=True)
    assert first.version == 1 and first.path == "category/v2"

    with pytest.raises(ServiceError) as refused:
        if how == "register":
            services.model_register(name="category", directory=trained.save(tmp_path / "elsewhere"))
        else:
            services.model_train(name="category", texts=["x"], labels=["y"], cv=0)

    assert refused.value.code == "classifier.target_exists"
    assert _folders(model_dir) == ["v2"]  # untouched, nothing left half-way
    services.load_model(first)
    assert ClassifierModel.objects.count() == 1
