"""Blind suggestions, rollback only to a model once in use, the admin threshold, hard training data."""

from __future__ import annotations

import csv

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from zhiwang.classifier import selectors, services
from zhiwang.classifier.ml import train
from zhiwang.classifier.models import ModelStatus
from zhiwang.core.errors import NotFound, ServiceError


@pytest.fixture
def saved(trained, tmp_path):
    return trained.save(tmp_path / "trained")


# --- blind suggestions ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["the street light is broken", "！！！？？？", "12345678", ""])
def test_a_text_without_known_evidence_is_a_blind_suggestion_and_always_queues(saved, model_dir, text):
    model = services.model_promote(model=services.model_register(name="category", directory=saved))
    services.model_set_threshold(model=model, threshold=0.0)  # even "dispatch everything"
    known, blind = services.suggest(["燕子山社区小区电梯故障，物业不维修", text])
    assert not known.blind and known.auto
    assert blind.blind and blind.decision == "queue"


def test_the_trained_model_recognises_its_uniform_answer(trained):
    [known, blind] = trained.predict(["化工厂排放废气污染空气", "hello world"], top_k=4)
    assert not trained.is_blind(known) and trained.is_blind(blind)
    assert not trained.is_blind([])


# --- rollback ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rollback_never_brings_back_a_rejected_candidate(saved, model_dir):
    current = services.model_promote(model=services.model_register(name="category", directory=saved))
    rejected = services.model_retire(model=services.model_register(name="category", directory=saved))
    assert selectors.previous_model("category") is None
    with pytest.raises(NotFound):
        services.model_rollback(name="category")
    rejected.refresh_from_db()
    assert rejected.status == ModelStatus.RETIRED
    assert selectors.active_model("category") == current


@pytest.mark.django_db
def test_rollback_skips_a_rejected_candidate_for_the_model_in_use_before(saved, model_dir):
    first = services.model_promote(model=services.model_register(name="category", directory=saved))
    second = services.model_promote(model=services.model_register(name="category", directory=saved))
    services.model_retire(model=services.model_register(name="category", directory=saved))  # retired last
    assert selectors.previous_model("category") == first
    assert services.model_rollback(name="category") == first
    second.refresh_from_db()
    assert second.status == ModelStatus.RETIRED


# --- the admin form ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["1.5", "-0.1"])
def test_admin_refuses_a_threshold_outside_0_1_as_a_form_error(client, admin_user, saved, model_dir, bad):
    model = services.model_register(name="category", directory=saved)
    before = model.threshold
    client.force_login(admin_user)
    url = reverse("admin:classifier_classifiermodel_change", args=[model.pk])
    response = client.post(url, {"threshold": bad, "note": ""})
    assert response.status_code == 200
    assert "threshold" in response.context["adminform"].form.errors
    model.refresh_from_db()
    assert model.threshold == before
    response = client.post(url, {"threshold": "0.75", "note": ""})
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.threshold == 0.75


# --- training on hard data -----------------------------------------------------------------------------

DUPLICATES = ["小区电梯坏了没人修"] * 6 + ["路灯不亮晚上很黑"] * 6
PUNCTUATION = ["！！！"] * 4 + ["。。。"] * 4


def labels_for(texts):
    half = len(texts) // 2
    return ["A"] * half + ["B"] * (len(texts) - half)


def test_texts_without_any_usable_token_are_refused_clearly():
    with pytest.raises(ServiceError) as exc:
        train(PUNCTUATION, labels_for(PUNCTUATION), cv=5)
    assert exc.value.code == "classifier.no_usable_text"
    with pytest.raises(ServiceError):
        train(PUNCTUATION, labels_for(PUNCTUATION), cv=0)


def test_fewer_distinct_texts_than_folds_trains_without_cross_validation():
    model = train(DUPLICATES, labels_for(DUPLICATES), cv=5)
    assert model.threshold is None and model.metadata["metrics"]["evaluated_on"] is None
    assert model.predict(["电梯坏了"])[0][0][0] == "A"


def test_folds_are_limited_by_the_distinct_texts():
    lifts = ["小区电梯坏了没人修", "电梯停运三天物业不管", "楼道电梯经常困人"]
    lamps = ["路灯不亮晚上很黑", "公园路灯全部熄灭", "路口灯杆倒了没人扶"]
    texts = lifts * 4 + lamps * 4  # 12 examples per label, but only 6 distinct texts: 6 folds at most
    model = train(texts, labels_for(texts), cv=10)
    assert model.metadata["metrics"]["evaluated_on"] == "cross-validation (out-of-fold)"


def write_csv(path, texts, labels):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return str(path)


def train_command(source, output):
    call_command(
        "classify",
        "train",
        "--input",
        source,
        "--text-column",
        "text",
        "--label-column",
        "label",
        "--output",
        str(output),
        verbosity=0,
    )


def test_command_refuses_punctuation_only_texts(tmp_path):
    source = write_csv(tmp_path / "punct.csv", PUNCTUATION, labels_for(PUNCTUATION))
    with pytest.raises(CommandError, match="标点|punctuation"):
        train_command(source, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_command_trains_on_duplicated_texts(tmp_path):
    source = write_csv(tmp_path / "dups.csv", DUPLICATES, labels_for(DUPLICATES))
    train_command(source, tmp_path / "model")
    assert (tmp_path / "model" / "metadata.json").is_file()


def test_command_refuses_an_output_that_is_a_file(tmp_path):
    source = write_csv(tmp_path / "dups.csv", DUPLICATES, labels_for(DUPLICATES))
    (tmp_path / "afile").write_text("")
    with pytest.raises(CommandError, match="afile"):
        train_command(source, tmp_path / "afile")
    with pytest.raises(CommandError, match="afile"):
        train_command(source, tmp_path / "afile" / "model")
    assert (tmp_path / "afile").read_text() == ""
