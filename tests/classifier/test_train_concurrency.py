"""Two trainings (or registrations) of one model name at the same time, and a training that fails.

Before the fix ``model_train`` took the next version without a lock: the retraining task and
``zhiwang classify --register`` (or the demo) both took vN; the second moved the first one's
folder away as "orphaned" and put its own in its place (the first row then loaded the second
one's model), and failed on the unique (name, version). A failed registration left its
folder behind.
"""

from __future__ import annotations

import copy
import threading

import pytest
from django.db import IntegrityError

from tests.threads import needs_row_locks, run_in_threads
from zhiwang.classifier import services
from zhiwang.classifier.models import ClassifierModel


@pytest.fixture
def quick_training(trained, monkeypatch):
    """``model_train`` gets a copy of the session's model instead of training again."""
    monkeypatch.setattr(services, "train", lambda texts, labels, **options: copy.deepcopy(trained))


def _folders(model_dir, name="category") -> list[str]:
    root = model_dir / name
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def _train(note: str):
    return services.model_train(name="category", texts=["x"], labels=["y"], cv=0, note=note)


def _meet_at_the_version(monkeypatch):
    """Each training waits, right when it picks its version, for the other to get there too
    (for at most 2 s: with the name locked, the other one only comes after the first commits)."""
    barrier = threading.Barrier(2)
    real = services._next_version

    def meeting(name):
        try:
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return real(name)

    monkeypatch.setattr(services, "_next_version", meeting)


@needs_row_locks
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("existing", [0, 1], ids=["first-version", "after-v1"])
def test_two_trainings_of_one_name_take_turns(
    existing, quick_training, trained, model_dir, tmp_path, monkeypatch
):
    if existing:  # the rows of the name are locked; without one, the name itself is
        services.model_register(name="category", directory=trained.save(tmp_path / "earlier"))
    _meet_at_the_version(monkeypatch)
    results = run_in_threads(lambda: _train("a"), lambda: _train("b"), start_together=False)
    assert not any(isinstance(r, Exception) for r in results), results
    models = {m.note: m for m in ClassifierModel.objects.filter(note__in=("a", "b"))}
    assert sorted(m.version for m in models.values()) == [existing + 1, existing + 2]
    assert models["a"].directory != models["b"].directory
    for model in models.values():  # each row loads its own files
        assert model.directory.name == f"v{model.version}" and model.directory.is_dir()
        services.load_model(model)
    # nothing moved away, nothing left half-way
    assert _folders(model_dir) == sorted(f"v{v}" for v in range(1, existing + 3))


@needs_row_locks
@pytest.mark.django_db(transaction=True)
def test_a_registration_and_a_training_at_the_same_time(
    quick_training, trained, model_dir, tmp_path, monkeypatch
):
    """``zhiwang classify --register`` (a folder trained elsewhere, copied in) beside the retraining task."""
    elsewhere = trained.save(tmp_path / "elsewhere")
    _meet_at_the_version(monkeypatch)
    results = run_in_threads(
        lambda: services.model_register(name="category", directory=elsewhere, note="a"),
        lambda: _train("b"),
        start_together=False,
    )
    assert not any(isinstance(r, Exception) for r in results), results
    models = list(ClassifierModel.objects.order_by("version"))
    assert [m.version for m in models] == [1, 2]
    assert [m.directory.name for m in models] == ["v1", "v2"]
    assert _folders(model_dir) == ["v1", "v2"]


@pytest.mark.django_db
def test_a_training_that_fails_to_register_leaves_no_folder(quick_training, model_dir, monkeypatch):
    def refused(**fields):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(ClassifierModel.objects, "create", refused)
    with pytest.raises(IntegrityError):
        _train("a")
    assert _folders(model_dir) == []
    assert not ClassifierModel.objects.exists()


@pytest.mark.django_db
def test_a_registration_that_fails_removes_its_copy(trained, model_dir, tmp_path, monkeypatch):
    elsewhere = trained.save(tmp_path / "elsewhere")

    def refused(**fields):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(ClassifierModel.objects, "create", refused)
    with pytest.raises(IntegrityError):
        services.model_register(name="category", directory=elsewhere)
    assert _folders(model_dir) == []
    assert elsewhere.is_dir()  # the folder it was given is not touched


@pytest.mark.django_db
def test_a_folder_left_by_an_earlier_database_is_kept_out_of_the_way(quick_training, model_dir):
    (model_dir / "category" / "v1").mkdir(parents=True)
    (model_dir / "category" / "v1" / "note.txt").write_text("old")
    model = _train("a")
    assert model.version == 1 and model.directory.name == "v1"
    services.load_model(model)
    folders = _folders(model_dir)
    assert len(folders) == 2 and folders[0] == "v1" and folders[1].startswith("v1.orphaned-")
