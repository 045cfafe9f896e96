"""Training runs: a run left by a dead worker is given up; failures are stored in plain words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from zhiwang.classifier import services as classifier_services
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.models import TrainingRun, TrainingStatus
from zhiwang.tickets.services import smart
from zhiwang.tickets.services.smart import (
    STALE_RUN_AFTER,
    LabelledHistory,
    classifier_retrain,
    classifier_retrain_request,
    stale_runs_give_up,
)

pytestmark = pytest.mark.django_db


def left_behind(status, *, ago):
    run = TrainingRun.objects.create(status=status, progress=40, stage="cross-validate")
    TrainingRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - ago)
    return run


@pytest.mark.parametrize("status", [TrainingStatus.QUEUED, TrainingStatus.RUNNING])
def test_a_run_that_has_not_moved_for_long_is_given_up_and_a_new_one_starts(
    status, admin_user, django_capture_on_commit_callbacks
):
    stale = left_behind(status, ago=STALE_RUN_AFTER + timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run, created = classifier_retrain_request(actor=admin_user)
    assert created and run.pk != stale.pk and len(callbacks) == 1
    stale.refresh_from_db()
    assert stale.status == TrainingStatus.FAILED and stale.finished_at is not None
    assert "60" in stale.error  # says how long it waited


def test_a_run_that_moves_still_blocks_a_second_one(admin_user, django_capture_on_commit_callbacks):
    busy = left_behind(TrainingStatus.RUNNING, ago=STALE_RUN_AFTER - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run, created = classifier_retrain_request(actor=admin_user)
    assert (run.pk, created, callbacks) == (busy.pk, False, [])
    busy.refresh_from_db()
    assert busy.status == TrainingStatus.RUNNING


def test_progress_moves_the_run(monkeypatch):
    run = TrainingRun.objects.create()
    TrainingRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(days=1))
    seen = []

    def fake_history(**kwargs):
        seen.append(TrainingRun.objects.get(pk=run.pk).updated_at)
        raise ServiceError("tickets.training_data_short", "too little")

    monkeypatch.setattr(smart, "labelled_history", fake_history)
    with pytest.raises(ServiceError):
        classifier_retrain(run_id=run.pk)
    assert timezone.now() - seen[0] < timedelta(minutes=1)  # "running" was written with the time


def history(count=30):
    texts = [f"小区电梯坏了没人修{i}" for i in range(count)]
    return LabelledHistory(texts=texts, labels=["A", "B"] * (count // 2), held_texts=[], held_labels=[])


def test_a_worker_whose_run_was_given_up_stops_and_keeps_the_verdict(monkeypatch):
    run = TrainingRun.objects.create()
    monkeypatch.setattr(smart, "labelled_history", lambda **kwargs: history())

    def model_train(*, progress, **kwargs):
        stale_runs_give_up(now=timezone.now() + 2 * STALE_RUN_AFTER)  # meanwhile, a new run took over
        progress("fit", 1, 1)
        raise AssertionError("the worker must stop at its next progress report")

    monkeypatch.setattr(classifier_services, "model_train", model_train)
    with pytest.raises(ServiceError) as exc:
        classifier_retrain(run_id=run.pk)
    assert exc.value.code == "tickets.training_given_up"
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED and run.model is None
    assert "60" in run.error  # the give-up message, not overwritten by the worker


def test_an_unexpected_library_error_is_stored_in_plain_words(monkeypatch):
    run = TrainingRun.objects.create()
    monkeypatch.setattr(smart, "labelled_history", lambda **kwargs: history())

    def model_train(**kwargs):
        raise ValueError("Found array with 0 feature(s) (shape=(8, 0)) while a minimum of 1 is required.")

    monkeypatch.setattr(classifier_services, "model_train", model_train)
    with pytest.raises(ValueError):
        classifier_retrain(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED
    assert run.error and "feature(s)" not in run.error and "shape" not in run.error


def test_texts_without_usable_words_fail_the_run_with_the_classifiers_message(monkeypatch, model_dir):
    run = TrainingRun.objects.create()
    punctuation = LabelledHistory(
        texts=["！！！", "。。。"] * 15, labels=["A", "B"] * 15, held_texts=[], held_labels=[]
    )
    monkeypatch.setattr(smart, "labelled_history", lambda **kwargs: punctuation)
    with pytest.raises(ServiceError) as exc:
        classifier_retrain(run_id=run.pk, cv=3)
    assert exc.value.code == "classifier.no_usable_text"
    run.refresh_from_db()
    assert run.status == TrainingStatus.FAILED
    # the code (the page words it in the reader's language) and the technical reason
    assert run.error == f"classifier.no_usable_text: {exc.value.message}"


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.ZHIWANG_MODEL_DIR = tmp_path / "models"
    return settings.ZHIWANG_MODEL_DIR
