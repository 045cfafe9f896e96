"""Training, prediction, bad input, save/load and the format-version guard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zhiwang.classifier.ml import FORMAT_VERSION, METADATA_FILE, FeatureConfig, TrainedModel, train
from zhiwang.core.errors import ServiceError


def test_predict_ranks_labels_with_probabilities(trained):
    [[(label, p), *rest]] = trained.predict(["燕子山社区小区电梯故障，物业不维修"], top_k=3)
    assert label == "城乡建设"
    assert len(rest) == 2
    assert p > rest[0][1] >= rest[1][1]
    proba = trained.predict_proba(["学校补课乱收费", "公交车班次少"])
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_metadata_records_training(trained, corpus):
    meta = trained.metadata
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["labels"] == sorted(set(corpus[1])) == trained.labels
    assert meta["training_size"] == len(corpus[0])
    assert meta["metrics"]["evaluated_on"].startswith("cross-validation")
    assert 0 <= meta["metrics"]["macro_f1"] <= 1
    assert meta["versions"]["sklearn"]
    assert meta["feature_config"]["kind"] == "lexicon+char"


@pytest.mark.parametrize(
    "text",
    ["", None, "好", "The street lamp on Huoju Road is broken", "x" * 100_000, "！！！？？？", "12345"],
)
def test_bad_input_gives_low_confidence_never_a_crash(trained, text):
    [[(_label, p), *_]] = trained.predict([text])
    assert p <= 0.5
    assert trained.decide(trained.predict([text])[0]) == "queue"


def test_mixed_and_very_long_chinese_text_is_handled(trained):
    long_text = "小区电梯故障，物业不维修。" * 5000
    [[(label, _p), *_]] = trained.predict([long_text, "Elevator 电梯 broken 故障"])[:1]
    assert label == "城乡建设"


def test_top_k_is_clamped(trained):
    assert len(trained.predict(["电梯"], top_k=99)[0]) == len(trained.labels)
    assert len(trained.predict(["电梯"], top_k=0)[0]) == 1
    assert trained.predict([]) == []


def test_presegmented_training_predicts_raw_text(corpus):
    from zhiwang.classifier.ml import prepare

    texts, labels = corpus
    model = train(prepare(texts), labels, presegmented=True, cv=0)
    assert model.predict(["化工厂排放废气污染空气"])[0][0][0] == "环境保护"
    assert model.threshold is None  # no cross-validation, no measured threshold


def test_char_only_model_needs_no_segmentation(corpus):
    model = train(*corpus, features=FeatureConfig(kind="char"), cv=0)
    assert model.predict(["幼儿园入学难"])[0][0][0] == "教育文体"


def test_tiny_classes_fall_back_to_logistic_regression():
    model = train(["电梯坏了", "学校收费", "电梯故障", "学校补课"], ["建设", "教育", "建设", "教育"], cv=5)
    assert model.metadata["classifier"]["type"] == "LogisticRegression"
    assert model.predict(["电梯"])[0][0][0] == "建设"


def test_rows_without_label_are_skipped_and_counted(corpus):
    texts, labels = corpus
    model = train([*texts, "无标签"], [*labels, "  "], cv=0)
    assert model.metadata["skipped_rows"] == 1


def test_training_errors_are_clear():
    with pytest.raises(ServiceError) as exc:
        train(["a", "b"], ["x", "x"])
    assert exc.value.code == "classifier.too_few_labels"
    with pytest.raises(ServiceError) as exc:
        train(["a", "b"], ["x"])
    assert exc.value.code == "classifier.length_mismatch"


def test_progress_is_reported(corpus):
    stages = []
    train(*corpus, cv=2, progress=lambda stage, done, total: stages.append((stage, done, total)))
    assert ("fit", 1, 1) in stages
    assert stages[0][0] == "prepare" and any(s[0] == "cross-validate" for s in stages)


def test_save_and_load_roundtrip(trained, tmp_path):
    trained.save(tmp_path / "m")
    loaded = TrainedModel.load(tmp_path / "m")
    texts = ["电梯故障", "河水发臭", "公交车少", "学校收费", ""]
    assert loaded.labels == trained.labels
    assert np.allclose(loaded.predict_proba(texts), trained.predict_proba(texts))
    assert loaded.threshold == trained.threshold
    meta = json.loads((tmp_path / "m" / METADATA_FILE).read_text(encoding="utf-8"))
    assert meta["labels"] == trained.labels and "created_at" in meta


def test_format_version_mismatch_is_refused(trained, tmp_path):
    trained.save(tmp_path / "m")
    path = tmp_path / "m" / METADATA_FILE
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ServiceError) as exc:
        TrainedModel.load(tmp_path / "m")
    assert exc.value.code == "classifier.format_version"
    assert str(FORMAT_VERSION + 1) in exc.value.message


def test_missing_or_broken_model_directory(trained, tmp_path):
    with pytest.raises(ServiceError) as exc:
        TrainedModel.load(tmp_path / "nothing")
    assert exc.value.code == "classifier.model_missing"
    trained.save(tmp_path / "m")
    (tmp_path / "m" / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ServiceError) as exc:
        TrainedModel.load(tmp_path / "m")
    assert exc.value.code == "classifier.model_unreadable"


def test_explain_names_the_deciding_words(trained):
    features = [name for name, _weight in trained.explain("化工厂排放废气")]
    assert features and any(not f.startswith("char:") for f in features)


def test_near_duplicates_share_a_cross_validation_group():
    from zhiwang.classifier.ml.training import duplicate_groups

    groups = duplicate_groups(
        [
            "小区 电梯 故障 物业 维修",
            "小区 电梯 故障 物业 维修",  # exact copy
            "小区 电梯 故障 物业 维修 及时",  # re-posted with an edit
            "学校 补课 收费",
            "",
            "",
        ]
    )
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[0], groups[3], groups[4]}) == 3
    assert groups[4] == groups[5]


def test_lexicon_model_predicts_raw_text_without_segmenting(corpus, monkeypatch):
    from zhiwang.classifier.ml import text

    model = train(*corpus, features=FeatureConfig(kind="lexicon+char"), cv=2)
    assert model.metadata["metrics"]["macro_f1"] > 0.8
    assert any(len(w) >= 2 for w, _weight in model.explain("化工厂排放废气污染空气"))

    def no_jieba(*args, **kwargs):
        raise AssertionError("prediction must not segment")

    monkeypatch.setattr(text, "segment", no_jieba)
    assert model.predict(["化工厂排放废气污染空气"])[0][0][0] == "环境保护"
    [[(_label, p), *_]] = model.predict(["The street lamp is broken"])
    assert p <= 0.5  # no known word: uniform, queued


def test_forked_batch_prediction_equals_in_process(trained):
    texts = [f"第{i}号小区电梯故障，物业不维修" if i % 2 else f"{i}路公交车班次太少" for i in range(2100)]
    serial = trained.predict_proba(texts)
    assert np.allclose(trained.predict_proba(texts, n_jobs=2), serial)


def test_direct_probabilities_match_scikit_learn(trained, corpus):
    from zhiwang.classifier.ml.model import _calibrated_proba

    features, classifier = trained.pipeline.steps[0][1], trained.pipeline.steps[-1][1]
    x = features.transform(trained.prepare([*corpus[0][:20], "电梯", ""]))
    assert np.allclose(_calibrated_proba(classifier, x), classifier.predict_proba(x))
    assert np.allclose(
        trained.predict_proba(corpus[0][:5]), trained.pipeline.predict_proba(trained.prepare(corpus[0][:5]))
    )
