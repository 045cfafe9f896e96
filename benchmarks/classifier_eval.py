"""Evaluate the category classifier on the real complaint data in ../shared/data/complaints/.

    .venv/bin/python benchmarks/classifier_eval.py [--quick] [--folds 5] [--sections cv,holdout,speed,urgency]
        [--baseline REV]

What it measures (same folds for every system; identical texts share a fold):

1. 5-fold stratified cross-validation on ``labelled_tokenized_train.csv`` (6,444 messages,
   already segmented by jieba, 7 top-level labels; near-duplicates kept in one fold) for
   (a) the baseline: plain TF-IDF + LogisticRegression, scikit-learn defaults;
   (b) our model, trained per fold exactly as ``zhiwang classify train`` does, including its
       inner cross-validation that picks the 98 %-precision threshold on the training folds only.
   Reported: macro-F1, accuracy, coverage at 98 % precision (honest: threshold from the
   training folds, with the precision it really reached; and the oracle value read off the
   pooled out-of-fold curve), expected calibration error, training time.
2. Ablation (skipped with ``--quick``): word / char / word+char / lexicon+char features and calibration methods,
   oracle figures on the same folds.
3. Hold-out on ``labelled_raw_sample.csv`` as raw text (title + body, jieba at prediction time):
   trained on the tokenized file minus every message that also appears in the raw sample
   (found by token containment), so nothing leaks.
4. Speed: training on the full file, predictions/s one at a time, in a batch on one core, and in
   a batch on all cores (forked segmentation workers); the default model's feature step with the
   hash lookup against each block counted on its own (the previous code), in the same run.
   With ``--baseline REV`` the default model is also predicted by the prediction code
   (``ml/lookup.py``, ``ml/model.py``, ``ml/text.py``) of git revision REV, loaded beside the
   current code, in interleaved rounds on the same texts: the before/after ratios of one run, and
   a check that both give the same labels and probabilities (within 1e-9).
5. Urgency rules (``ml.urgency``): precision and recall on the hand-labelled messages of
   ``unlabelled_with_votes.csv`` (labels in tests/classifier/data/urgency_hand_labels.csv).

Prints a table and writes ``benchmarks/out/classifier_eval.md`` for docs/benchmarks.md.
The data path is ``../shared/data`` beside the checkout, or ``$ZHIWANG_SHARED_DATA``.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
import unicodedata
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

SHARED = Path(os.environ.get("ZHIWANG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
COMPLAINTS = SHARED / "complaints"
OUT = REPO / "benchmarks" / "out" / "classifier_eval.md"
TARGET = 0.98


def _configure_django() -> None:
    """Error messages go through gettext; a minimal configuration is enough here."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_I18N=False)


def load_tokenized() -> tuple[list[str], list[str]]:
    with open(COMPLAINTS / "labelled_tokenized_train.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text_tokens"] for r in rows], [r["label"] for r in rows]


def load_raw() -> tuple[list[str], list[str]]:
    with open(COMPLAINTS / "labelled_raw_sample.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [f"{r['title']}\n{r['text']}" for r in rows], [r["label"] for r in rows]


def find_overlap(tokenized: list[str], raw: list[str], *, containment: float = 0.9) -> set[int]:
    """Indices of tokenized messages that are also in the raw sample.

    Candidates are the 5 nearest tokenized messages by character-bigram cosine; one counts
    as the same message when >= 90 % of its tokens occur verbatim in the raw text (the
    observed distribution is bimodal: ~0.95-1.0 for copies, < 0.5 for the rest).
    """
    import re

    from sklearn.feature_extraction.text import TfidfVectorizer

    def keep(text: str) -> str:
        return re.sub(r"\W", "", unicodedata.normalize("NFKC", text))

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 2)).fit([keep(t) for t in tokenized])
    similarity = (
        vectorizer.transform([keep(r) for r in raw]) @ vectorizer.transform([keep(t) for t in tokenized]).T
    )
    similarity = similarity.toarray()
    overlap: set[int] = set()
    for i, row in enumerate(similarity):
        text = unicodedata.normalize("NFKC", raw[i])
        for j in np.argsort(-row)[:5]:
            tokens = tokenized[j].split()
            if tokens and np.mean([t in text for t in tokens]) >= containment:
                overlap.add(int(j))
    return overlap


def duplicate_aware_folds(k: int = 5):
    """The labelled messages prepared, their labels as indices, and ``k`` stratified folds in which
    exact and near-duplicate messages share a fold (the exploratory scripts' common setup).

    Returns (prepared texts, y, label names, splits).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    from zhiwang.classifier.ml import prepare
    from zhiwang.classifier.ml.training import duplicate_groups

    texts, labels = load_tokenized()
    names = sorted(set(labels))
    y = np.array([names.index(label) for label in labels])
    prepared = prepare(texts, presegmented=True)
    groups = duplicate_groups(prepared)
    splits = list(StratifiedGroupKFold(k, shuffle=True, random_state=0).split(prepared, y, groups))
    return prepared, y, names, splits


def coverage_at(confidence: np.ndarray, correct: np.ndarray, target: float = TARGET) -> float:
    from zhiwang.classifier.ml import precision_coverage_curve

    return precision_coverage_curve(list(zip(confidence, correct, strict=True))).coverage_at_precision(target)


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-label confidence."""
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return total


def summarize(name: str, proba: np.ndarray, y: np.ndarray, **extra) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    pred = proba.argmax(axis=1)
    confidence, correct = proba.max(axis=1), pred == y
    row = {
        "system": name,
        "macro_f1": f1_score(y, pred, average="macro"),
        "accuracy": accuracy_score(y, pred),
        "oracle_cov98": coverage_at(confidence, correct),
        "ece": ece(confidence, correct),
    }
    row.update(extra)
    return row


def baseline_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(token_pattern=r"\S+"), LogisticRegression(max_iter=1000))


def run_cv(texts, labels, folds: int, ablation: bool, log) -> tuple[list[dict], dict]:
    from sklearn.model_selection import StratifiedGroupKFold

    from zhiwang.classifier.ml import FeatureConfig, cross_validate, prepare, train
    from zhiwang.classifier.ml.training import duplicate_groups

    names = sorted(set(labels))
    y = np.array([names.index(label) for label in labels])
    prepared = prepare(texts, presegmented=True)
    groups = duplicate_groups(prepared)  # the grouping train() itself uses: the same folds below
    splits = list(StratifiedGroupKFold(folds, shuffle=True, random_state=0).split(prepared, y, groups))
    rows = []

    # (a) baseline
    proba = np.zeros((len(y), len(names)))
    started = time.perf_counter()
    for train_idx, test_idx in splits:
        model = baseline_pipeline().fit([texts[i] for i in train_idx], y[train_idx])
        proba[test_idx] = model.predict_proba([texts[i] for i in test_idx])
    rows.append(
        summarize(
            "baseline: TF-IDF words + LogisticRegression (defaults)",
            proba,
            y,
            fit_seconds=(time.perf_counter() - started) / folds,
        )
    )
    log(rows[-1])

    # (b) ours, as shipped: threshold from the training folds' own cross-validation
    proba = np.zeros((len(y), len(names)))
    auto = np.zeros(len(y), dtype=bool)
    started = time.perf_counter()
    for train_idx, test_idx in splits:
        model = train([texts[i] for i in train_idx], [labels[i] for i in train_idx], presegmented=True, cv=5)
        fold_proba, evidence = model.score([texts[i] for i in test_idx], presegmented=True)
        order = [model.labels.index(n) for n in names]
        proba[test_idx] = fold_proba[:, order]
        auto[test_idx] = automatic(model, fold_proba, evidence)
    correct = proba.argmax(axis=1) == y
    ours = summarize(
        "ours: lexicon words + char 1-3-grams, LinearSVC, sigmoid-calibrated",
        proba,
        y,
        fit_seconds=(time.perf_counter() - started) / folds,
        honest_cov98=auto.mean(),
        honest_precision=correct[auto].mean() if auto.any() else float("nan"),
    )
    rows.append(ours)
    log(rows[-1])

    ablations = []
    if ablation:
        variants = [
            ("word+char 1-3 (jieba at prediction)", FeatureConfig(kind="word+char"), "sigmoid"),
            ("word", FeatureConfig(kind="word"), "sigmoid"),
            ("char 1-3", FeatureConfig(kind="char"), "sigmoid"),
            ("lexicon+char 1-2", FeatureConfig(kind="lexicon+char", char_ngram_range=(1, 2)), "sigmoid"),
            ("lexicon+char 1-3, temperature scaling", FeatureConfig(kind="lexicon+char"), "temperature"),
            ("lexicon+char 1-3, isotonic", FeatureConfig(kind="lexicon+char"), "isotonic"),
        ]
        for label, config, calibration in variants:
            # the same folds: cross_validate splits with the same seed and groups
            started = time.perf_counter()
            proba = cross_validate(prepared, y, config=config, cv=folds, calibration=calibration)
            ablations.append(
                summarize(
                    f"{label} ({calibration})", proba, y, fit_seconds=(time.perf_counter() - started) / folds
                )
            )
            log(ablations[-1])
    return rows, {"ablation": ablations, "n": len(y), "duplicates": int(len(y) - len(set(groups)))}


def automatic(model, proba: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """Which texts the platform dispatches on its own: top probability at the model's stored
    threshold and at least ``MIN_EVIDENCE`` known words (a thin or blind text always waits)."""
    from zhiwang.classifier.ml.selective import MIN_EVIDENCE

    threshold = model.threshold
    return (proba.max(axis=1) >= (np.inf if threshold is None else threshold)) & (evidence >= MIN_EVIDENCE)


def run_holdout(texts, labels, raw_texts, raw_labels, log) -> dict:
    from zhiwang.classifier.ml import prepare, train

    overlap = find_overlap(texts, raw_texts)
    keep = [i for i in range(len(texts)) if i not in overlap]
    names = sorted(set(labels))
    y_raw = np.array([names.index(label) for label in raw_labels])
    model = train([texts[i] for i in keep], [labels[i] for i in keep], presegmented=True, cv=5)
    scored, evidence = model.score(raw_texts, presegmented=False)
    proba = scored[:, [model.labels.index(n) for n in names]]
    auto = automatic(model, scored, evidence)
    correct = proba.argmax(axis=1) == y_raw
    ours = summarize(
        "ours",
        proba,
        y_raw,
        honest_cov98=auto.mean(),
        honest_precision=correct[auto].mean() if auto.any() else float("nan"),
    )
    base = baseline_pipeline().fit([texts[i] for i in keep], [names.index(labels[i]) for i in keep])
    base_proba = base.predict_proba(prepare(raw_texts, presegmented=False))
    baseline = summarize("baseline", base_proba, y_raw)
    result = {
        "overlap": len(overlap),
        "train_size": len(keep),
        "ours": ours,
        "baseline": baseline,
        "model": model,
    }
    log({"holdout": {k: v for k, v in result.items() if k != "model"}})
    return result


SPEED_MODELS = (("", "default"), ("word_", "word+char"), ("char_", "char"))
SPEED_BATCH = 4000  # texts in the batch of the speed section


BASELINE_MODULES = ("lookup", "model", "text")  # the prediction code a --baseline revision supplies
BASELINE_ROUNDS = 3  # interleaved rounds; the best rate of each code counts (least disturbed by load)


def load_baseline(rev: str):
    """``TrainedModel`` of git revision ``rev``'s prediction code, importable beside the current code.

    Its ``lookup``, ``model`` and ``text`` modules are copied into a temporary package with
    their imports of each other redirected there; everything else (features, selective) is the
    current code, so the old class wraps the same fitted pipeline.
    """
    package = Path(tempfile.mkdtemp(prefix="zw_baseline_")) / "zw_baseline_ml"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    for name in BASELINE_MODULES:
        source = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{rev}:zhiwang/classifier/ml/{name}.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for module in BASELINE_MODULES:
            source = source.replace(
                f"from zhiwang.classifier.ml import {module}\n", f"from zw_baseline_ml import {module}\n"
            ).replace(f"zhiwang.classifier.ml.{module} ", f"zw_baseline_ml.{module} ")
        (package / f"{name}.py").write_text(source, encoding="utf-8")
    sys.path.insert(0, str(package.parent))
    from zw_baseline_ml.model import TrainedModel

    return TrainedModel


def _rates(model, batch, cores) -> dict:
    """Wall-clock predictions/s one at a time (300 texts), in one batch on one core and on ``cores``."""
    started = time.perf_counter()
    for text in batch[:300]:
        model.predict([text])
    one = 300 / (time.perf_counter() - started)
    started, cpu = time.perf_counter(), time.process_time()
    model.predict(batch, n_jobs=1)
    serial = len(batch) / (time.perf_counter() - started)
    serial_cpu = len(batch) / (time.process_time() - cpu)
    started = time.perf_counter()
    model.predict(batch, n_jobs=cores)
    return {
        "one": one,
        "batch": serial,
        "batch_cpu": serial_cpu,
        "batch_all": len(batch) / (time.perf_counter() - started),
    }


def compare_baseline(model, rev: str, batch, probe, cores) -> dict:
    """Same-run rates of the default model with the prediction code of ``rev`` and the current one."""
    baseline_class = load_baseline(rev)
    old = baseline_class(
        pipeline=model.pipeline,
        labels=model.labels,
        feature_config=model.feature_config,
        metadata=model.metadata,
    )
    new_proba, new_evidence = model.score(probe)
    old_proba, old_evidence = old.score(probe)
    result = {
        "rev": rev,
        "probe_texts": len(probe),
        "max_abs_diff": float(np.abs(new_proba - old_proba).max()),
        "same_labels": bool((new_proba.argmax(axis=1) == old_proba.argmax(axis=1)).all()),
        "same_evidence": bool(np.array_equal(new_evidence, old_evidence)),
    }
    best = {"old": {}, "new": {}}
    for _round in range(BASELINE_ROUNDS):
        for key, chosen in (("old", old), ("new", model)):
            for name, rate in _rates(chosen, batch, cores).items():
                best[key][name] = max(best[key].get(name, 0.0), rate)
    result.update(best)
    return result


def speed(raw_texts, tokenized, labels, baseline: str | None = None) -> dict:
    """Training time on the full file, and prediction speed on raw text for each kind of model."""
    from zhiwang.classifier.ml import FeatureConfig, train

    started = time.perf_counter()
    model = train(tokenized, labels, presegmented=True, cv=5)
    train_cv = time.perf_counter() - started
    started = time.perf_counter()
    train(tokenized, labels, presegmented=True, cv=0)
    train_plain = time.perf_counter() - started
    models = {"default": model}
    for kind in ("word+char", "char"):
        models[kind] = train(tokenized, labels, presegmented=True, cv=0, features=FeatureConfig(kind=kind))

    batch = (raw_texts * (SPEED_BATCH // len(raw_texts) + 1))[:SPEED_BATCH]
    cores = os.cpu_count() or 1
    result = {
        "train_cv_seconds": train_cv,
        "train_seconds": train_plain,
        "cores": cores,
        "mean_chars": float(np.mean([len(t) for t in batch])),
        "default_kind": model.feature_config.kind,
    }
    for key, kind in SPEED_MODELS:
        chosen = models[kind]
        chosen.predict(batch[:50])  # warm-up: jieba dictionary loaded
        started, cpu = time.perf_counter(), time.process_time()
        for text in batch[:300]:
            chosen.predict([text])
        result[key + "one_by_one_per_s"] = 300 / (time.perf_counter() - started)
        result[key + "one_by_one_per_cpu_s"] = 300 / (time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        chosen.predict(batch, n_jobs=1)
        result[key + "batch_one_core_per_s"] = len(batch) / (time.perf_counter() - started)
        result[key + "batch_per_cpu_s"] = len(batch) / (time.process_time() - cpu)
        started = time.perf_counter()
        chosen.predict(batch, n_jobs=cores)
        result[key + "batch_all_cores_per_s"] = len(batch) / (time.perf_counter() - started)
    # the feature step of the default model: one hash lookup for all blocks vs each block on its own
    import scipy.sparse as sp

    from zhiwang.classifier.ml import lookup

    default = models["default"]
    prepared = default.prepare(batch)
    features = default.pipeline.steps[0][1]
    cpu = time.process_time()
    sp.hstack([block.transform(prepared) for _name, block in features.transformer_list]).tocsr()
    result["features_per_block_cpu_s"] = time.process_time() - cpu
    cpu = time.process_time()
    lookup.transform(features, prepared)
    result["features_lookup_cpu_s"] = time.process_time() - cpu
    if baseline:
        tokenized_probe = [t.replace(" ", "") for t in tokenized[:3000]]  # as raw text
        result["baseline"] = compare_baseline(default, baseline, batch, raw_texts + tokenized_probe, cores)
    try:
        result["load_1min_at_end"] = os.getloadavg()[0]
    except OSError:
        result["load_1min_at_end"] = float("nan")
    return result


URGENCY_LABELS = REPO / "tests" / "classifier" / "data" / "urgency_hand_labels.csv"
URGENCY_SPLITS = (
    ("dev", "rules written on these"),
    ("test", "first check; rules revised after it"),
    ("holdout", "labelled after the rules were frozen; the urgent/possible split was chosen after"),
)


def run_urgency(log) -> list[dict]:
    """Precision and recall of the urgency rules on the hand-labelled messages, per split.

    The labels (message id, urgent/normal, split, the annotator's reason; no message text)
    are in tests/classifier/data/; the texts come from ``unlabelled_with_votes.csv``.
    """
    from zhiwang.classifier.ml.urgency import LEVEL_NONE, LEVEL_URGENT, assess

    with open(COMPLAINTS / "unlabelled_with_votes.csv", encoding="utf-8") as handle:
        messages = {r["message_id"]: r for r in csv.DictReader(handle)}
    with open(URGENCY_LABELS, encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    rows = []
    for split, note in URGENCY_SPLITS:
        chosen = [r for r in labels if r["split"] == split]
        gold = np.array([r["urgency"] == "urgent" for r in chosen])
        levels = np.array(
            [
                assess(messages[r["message_id"]]["title"], messages[r["message_id"]]["text"]).level
                for r in chosen
            ]
        )
        row = {"split": split, "note": note, "n": len(chosen), "positives": int(gold.sum())}
        for name, flagged in (("urgent", levels == LEVEL_URGENT), ("screen", levels != LEVEL_NONE)):
            tp = int((flagged & gold).sum())
            row[name] = (tp, int(flagged.sum()), int(gold.sum()))
        rows.append(row)
        log(row)
    return rows


def _render_urgency(rows) -> list[str]:
    def fig(tp, flagged, positives):
        precision = f"{tp}/{flagged} = {pct(tp / flagged) if flagged else '—'}"
        return f"{precision} | {tp}/{positives} = {pct(tp / positives) if positives else '—'}"

    lines = [
        "",
        "**Urgency rules** (`ml.urgency`, no model): hand-labelled messages of `unlabelled_with_votes.csv` "
        "(one annotator; about 60 % drawn from messages with a danger or supply word, 40 % at random).",
        "",
        "| split | messages (urgent) | level urgent: precision | recall | urgent or possible: precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['split']} ({row['note']}) | {row['n']} ({row['positives']}) | {fig(*row['urgent'])} | "
            f"{fig(*row['screen'])} |"
        )
    return lines


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    import sklearn

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_1min_at_start": load,
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def pct(value: float) -> str:
    return "—" if value is None or value != value else f"{100 * value:.1f} %"


def render(machine, cv_rows, extra, holdout, speeds, urgency_rows=None) -> str:
    lines = [
        "### Category classifier (`benchmarks/classifier_eval.py`)",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores (1-min load {machine['load_1min_at_start']:.1f} "
        f"at start), Python {machine['python']}, scikit-learn {machine['sklearn']}; run {machine['date']}.",
    ]
    if cv_rows:
        lines += _render_cv(cv_rows, extra)
    if holdout:
        lines += _render_holdout(holdout)
    if speeds:
        lines += _render_speed(speeds)
    if urgency_rows:
        lines += _render_urgency(urgency_rows)
    return "\n".join(lines) + "\n"


def _render_cv(cv_rows, extra) -> list[str]:
    lines = [
        "",
        f"**Cross-validation**: {extra['n']} messages of `labelled_tokenized_train.csv`, "
        f"7 labels, 5-fold stratified; exact and near-duplicates (word TF-IDF cosine >= 0.8) share a fold "
        f"({extra['duplicates']} messages are a copy or near-copy of another).",
        "",
        "| system | macro-F1 | accuracy | coverage @98 % precision, threshold from training folds "
        "(precision reached) | oracle coverage @98 % | ECE | fit s/fold |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in cv_rows:
        honest = (
            f"{pct(row['honest_cov98'])} ({pct(row['honest_precision'])})" if "honest_cov98" in row else "—"
        )
        lines.append(
            f"| {row['system']} | {row['macro_f1']:.4f} | {row['accuracy']:.4f} | {honest} | "
            f"{pct(row['oracle_cov98'])} | {row['ece']:.3f} | {row['fit_seconds']:.0f} |"
        )
    if extra["ablation"]:
        lines += [
            "",
            "**Ablation** (same folds, our classifier; oracle coverage; the shipped model is lexicon+char 1-3, sigmoid):",
            "",
            "| features (calibration) | macro-F1 | accuracy | oracle coverage @98 % | ECE | s/fold |",
            "|---|---|---|---|---|---|",
        ]
        for row in extra["ablation"]:
            lines.append(
                f"| {row['system']} | {row['macro_f1']:.4f} | {row['accuracy']:.4f} | "
                f"{pct(row['oracle_cov98'])} | {row['ece']:.3f} | {row['fit_seconds']:.0f} |"
            )
    lines += [
        "",
        "Honest vs oracle: the honest coverage applies the threshold each model stored at training time "
        "(its own inner cross-validation on the training folds) to the unseen fold; the oracle coverage is "
        "the most that the pooled test predictions allow at >= 98 % precision (the honest figure can exceed "
        "it only by falling short of 98 %). Our fit time per fold includes that inner 5-fold measurement.",
    ]
    return lines


def _render_holdout(holdout) -> list[str]:
    ours, base = holdout["ours"], holdout["baseline"]
    return [
        "",
        f"**Raw hold-out**: the 495 messages of `labelled_raw_sample.csv` as raw text (title + body). "
        f"{holdout['overlap']} messages of the tokenized file are copies of sample messages and were removed from "
        f"training ({holdout['train_size']} left).",
        "",
        "| system | macro-F1 | accuracy | coverage @98 %, stored threshold (precision reached) | oracle coverage @98 % |",
        "|---|---|---|---|---|",
        f"| baseline | {base['macro_f1']:.4f} | {base['accuracy']:.4f} | — | {pct(base['oracle_cov98'])} |",
        f"| ours | {ours['macro_f1']:.4f} | {ours['accuracy']:.4f} | {pct(ours['honest_cov98'])} "
        f"({pct(ours['honest_precision'])}) | {pct(ours['oracle_cov98'])} |",
    ]


def _render_speed(speeds) -> list[str]:
    names = {
        "": f"{speeds['default_kind']} (default)",
        "word_": "word+char (jieba at prediction)",
        "char_": "char only (no jieba)",
    }
    lines = [
        "",
        f"**Speed** (raw texts, mean {speeds['mean_chars']:.0f} characters; 1-min load "
        f"{speeds['load_1min_at_end']:.1f} at the end): training on all 6,444 messages "
        f"{speeds['train_seconds']:.0f} s ({speeds['train_cv_seconds']:.0f} s with the 5-fold threshold "
        "measurement). Wall-clock rates, with the rate per CPU-second in brackets (what one free core gives "
        "on a shared machine).",
        "",
        f"| model | one text at a time | batch, 1 core | batch, {speeds['cores']} cores |",
        "|---|---|---|---|",
    ]
    for key, _kind in SPEED_MODELS:
        lines.append(
            f"| {names[key]} | {speeds[key + 'one_by_one_per_s']:.0f}/s "
            f"({speeds[key + 'one_by_one_per_cpu_s']:.0f}) | {speeds[key + 'batch_one_core_per_s']:.0f}/s "
            f"({speeds[key + 'batch_per_cpu_s']:.0f}) | {speeds[key + 'batch_all_cores_per_s']:.0f}/s |"
        )
    lines += [
        "",
        f"Feature step of the default model on the {SPEED_BATCH:,}-text batch (CPU seconds, same run): "
        f"each block counted on its own (np.unique + binary search, the previous code) "
        f"{speeds['features_per_block_cpu_s']:.2f} s; one n-gram pass and one hash lookup for all blocks "
        f"{speeds['features_lookup_cpu_s']:.2f} s "
        f"(x{speeds['features_per_block_cpu_s'] / max(speeds['features_lookup_cpu_s'], 1e-9):.1f}).",
    ]
    if speeds.get("baseline"):
        lines += _render_baseline(speeds["baseline"], speeds["cores"])
    return lines


def _render_baseline(base, cores) -> list[str]:
    old, new = base["old"], base["new"]

    def ratio(key):
        return f"x{new[key] / max(old[key], 1e-9):.2f}"

    return [
        "",
        f"Default model, prediction code of `{base['rev']}` against the current code, same run "
        f"({BASELINE_ROUNDS} interleaved rounds, best rate of each; batch of {SPEED_BATCH:,} raw texts). "
        f"Equivalence on {base['probe_texts']:,} texts: same labels {'yes' if base['same_labels'] else 'NO'}, "
        f"same evidence {'yes' if base['same_evidence'] else 'NO'}, largest probability difference "
        f"{base['max_abs_diff']:.1e}.",
        "",
        f"| code | one text at a time | batch, 1 core (per CPU-s) | batch, {cores} cores |",
        "|---|---|---|---|",
        f"| `{base['rev']}` | {old['one']:.0f}/s | {old['batch']:.0f}/s ({old['batch_cpu']:.0f}) "
        f"| {old['batch_all']:.0f}/s |",
        f"| current | {new['one']:.0f}/s | {new['batch']:.0f}/s ({new['batch_cpu']:.0f}) | {new['batch_all']:.0f}/s |",
        f"| ratio | {ratio('one')} | {ratio('batch')} ({ratio('batch_cpu')}) | {ratio('batch_all')} |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the feature/calibration ablation")
    parser.add_argument(
        "--sections",
        default="cv,holdout,speed,urgency",
        help="comma-separated subset of cv,holdout,speed,urgency (default: all)",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also predict with the prediction code of this git revision (speed section; e.g. HEAD~1)",
    )
    args = parser.parse_args(argv)
    if not COMPLAINTS.is_dir():
        print(f"classifier_eval: no data at {COMPLAINTS} (set ZHIWANG_SHARED_DATA); skipped.")
        return 0
    _configure_django()

    def log(item):
        print(item, file=sys.stderr, flush=True)

    machine = machine_info()
    texts, labels = load_tokenized()
    raw_texts, raw_labels = load_raw()
    sections = {s.strip() for s in args.sections.split(",")}
    cv_rows, extra, holdout, speeds, urgency_rows = [], {}, None, None, None
    if "cv" in sections:
        cv_rows, extra = run_cv(texts, labels, args.folds, not args.quick, log)
    if "holdout" in sections:
        holdout = run_holdout(texts, labels, raw_texts, raw_labels, log)
    if "speed" in sections:
        speeds = speed(raw_texts, texts, labels, baseline=args.baseline)
        log(speeds)
    if "urgency" in sections:
        urgency_rows = run_urgency(log)
    report = render(machine, cv_rows, extra, holdout, speeds, urgency_rows)
    out = (
        OUT
        if sections == {"cv", "holdout", "speed", "urgency"}
        else OUT.with_name(f"classifier_eval_{'_'.join(sorted(sections))}.md")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print(report)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
