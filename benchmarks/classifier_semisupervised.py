"""Exploratory: self-training on unlabelled messages, and a taxonomy prior (issue 7).

Not part of the product and not run by ``classifier_eval.py``: a one-off measurement of two
ideas on exactly the folds and recipe of ``classifier_variants.py`` (duplicate-aware
StratifiedGroupKFold, 5 folds, seed 0; lexicon + character 1-3-grams fitted per fold,
LinearSVC C=0.5 with out-of-fold sigmoid calibration, "A"):

1. **Self-training** with the raw messages of ``unlabelled_with_votes.csv`` (title + text).
   Per fold, A fitted on the training folds labels the unlabelled messages; those with a
   calibrated top probability >= t join the training set with their predicted label, the
   features and the model are refitted ("x2": one more round with the refitted model).
   Unlabelled messages that are near-duplicates (word TF-IDF cosine >= 0.8) of a test-fold
   message are dropped first (no transductive leak). Two forms of the unlabelled text:
   (a) ``raw``: prepared as ``train`` prepares raw text (jieba, every token kept);
   (b) ``filt``: jieba tokens kept only when the training folds contain them, which strips
   stop-words the way the labelled (pre-segmented, stop-word-free) file was made.
2. **Taxonomy prior**: for each of the 7 labels, log(1 + occurrences) in the unsegmented
   text of its level-2 and of its level-3 names from ``category_taxonomy.csv`` (whole names,
   their parts split at 和/与/及/、, and the parts without a generic suffix such as 管理),
   14 columns times a scale, appended to A's features.

Prints one line per fold and variant (macro-F1, accuracy of that fold), then one JSON line
per variant with the pooled out-of-fold macro-F1, accuracy, oracle coverage at 98 %
precision by top probability and training seconds per fold (features, the first model and
the unlabelled predictions included). Per-fold results are cached in ``--cache`` so an
interrupted run resumes; ``--variants`` picks a subset (names as printed, comma-separated).
Slow (about 30-60 minutes on 2 busy cores). Needs ../shared/data/complaints/.

    .venv/bin/python benchmarks/classifier_semisupervised.py [--variants A,TAX-s0.3] [--cache DIR]
"""

import argparse
import csv
import json
import re
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from classifier_eval import COMPLAINTS, coverage_at, duplicate_aware_folds
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.svm import LinearSVC

THRESHOLDS = (0.9, 0.95, 0.98)
SECOND_ROUND = 0.95  # the threshold also tried with a second round
TAX_SCALES = (0.3, 1.0)
LEAK_COSINE = 0.8
GENERIC = {"其他", "管理", "办理", "问题", "政策", "待遇", "服务", "建设", "执法", "监管"}
SUFFIXES = ("管理", "问题", "政策", "服务", "监管", "建设", "纠纷", "执法")

SELF_TRAINING = [f"ST-{form}-t{t:.2f}" for form in ("raw", "filt") for t in THRESHOLDS] + [
    f"ST-{form}-t{SECOND_ROUND:.2f}-x2" for form in ("raw", "filt")
]
VARIANTS = ["A", *SELF_TRAINING, *(f"TAX-s{s}" for s in TAX_SCALES)]


def load_unlabelled() -> list[str]:
    with open(COMPLAINTS / "unlabelled_with_votes.csv", encoding="utf-8") as handle:
        return [f"{r['title']}\n{r['text']}" for r in csv.DictReader(handle)]


def taxonomy_terms(names: list[str]) -> list[list[str]]:
    """Search terms per (label, level): [label0-level2, label0-level3, label1-level2, ...]."""
    with open(COMPLAINTS / "category_taxonomy.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for name in names:
        for level in ("level2", "level3"):
            terms = set()
            for r in rows:
                if r["level1"] != name:
                    continue
                whole = r[level].strip().lower()
                parts = [whole, *re.split(r"[和与及、/]", whole)]
                for part in parts:
                    terms.add(part)
                    for suffix in SUFFIXES:
                        if part.endswith(suffix):
                            terms.add(part[: -len(suffix)])
            out.append(sorted(t for t in terms if len(t) >= 2 and t not in GENERIC))
    return out


def taxonomy_features(docs: list[str], terms: list[list[str]]) -> np.ndarray:
    flat = [d.replace(" ", "") for d in docs]
    return np.log1p(np.array([[sum(d.count(t) for t in group) for group in terms] for d in flat], float))


def main() -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_I18N=False)
    from zhiwang.classifier.ml import FeatureConfig, prepare
    from zhiwang.classifier.ml.features import build_features
    from zhiwang.classifier.ml.text import split_tokens

    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--cache", default="/tmp/zw_semisupervised")
    args = parser.parse_args()
    wanted = [v for v in VARIANTS if v in args.variants.split(",")]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)

    warnings.filterwarnings("ignore")
    prepared, y, names, splits = duplicate_aware_folds()
    K = len(names)

    t0 = time.perf_counter()
    raw_u = prepare(load_unlabelled(), presegmented=False)  # jieba, all tokens
    print(f"unlabelled: {len(raw_u)} messages segmented in {time.perf_counter() - t0:.0f} s", flush=True)
    vocab_all = {w for d in prepared for w in d.split()}

    def keep_known(docs, vocab):
        return [" ".join(w for w in d.split() if w in vocab) for d in docs]

    # near-duplicates between unlabelled and labelled messages, on the stop-word-free form
    filt_all = keep_known(raw_u, vocab_all)
    tfidf = TfidfVectorizer(analyzer=split_tokens).fit(prepared + filt_all)
    sim = (tfidf.transform(filt_all) @ tfidf.transform(prepared).T).tocsr()
    sim.data[sim.data < LEAK_COSINE] = 0
    sim.eliminate_zeros()
    twins = np.asarray((sim > 0).sum(1)).ravel()
    print(f"unlabelled with a labelled near-duplicate (cos >= {LEAK_COSINE}): {int((twins > 0).sum())}")

    terms = taxonomy_terms(names)
    print("taxonomy terms per label/level:", [len(t) for t in terms])
    tax_all = taxonomy_features(prepared, terms)
    print("share of messages with a taxonomy term:", round(float((tax_all.sum(1) > 0).mean()), 3), flush=True)

    def featurize(dtr, dte_list):
        feats = build_features(FeatureConfig(), n_docs=len(dtr))
        feats.fit(dtr)

        def tf(docs):
            return sp.hstack([b.transform(docs) for _, b in feats.transformer_list]).tocsr()

        return tf(dtr), [tf(d) for d in dte_list], tf

    def model():
        return CalibratedClassifierCV(LinearSVC(C=0.5), method="sigmoid", cv=5, ensemble=False)

    def fit_predict(dtr, ytr, others):
        """Features and A fitted on ``dtr``; probabilities of each list of ``others``."""
        Xtr, Xs, _tf = featurize(dtr, others)
        est = model().fit(Xtr, ytr)
        return [est.predict_proba(X) for X in Xs]

    def path(name, f):
        return cache / f"{name}.fold{f}.npz"

    for f, (tr, te) in enumerate(splits):
        todo = [v for v in wanted if not path(v, f).exists()]
        if not todo:
            continue
        dtr = [prepared[i] for i in tr]
        dte = [prepared[i] for i in te]
        ytr = y[tr]
        eligible = np.asarray(sim[:, te].sum(1)).ravel() == 0  # no test-fold twin
        vocab = {w for d in dtr for w in d.split()}
        forms = {"raw": [raw_u[i] for i in np.flatnonzero(eligible)]}
        forms["filt"] = keep_known(forms["raw"], vocab)

        def save(name, proba, secs, info=None, f=f, te=te):
            np.savez(path(name, f), proba=proba, secs=secs, info=json.dumps(info or {}))
            pred = proba.argmax(1)
            line = dict(
                fold=f,
                name=name,
                f1=round(f1_score(y[te], pred, average="macro"), 4),
                acc=round(accuracy_score(y[te], pred), 4),
                s=round(secs, 1),
                **(info or {}),
            )
            print(json.dumps(line, ensure_ascii=False), flush=True)

        if any(v == "A" or v.startswith("ST-") for v in todo):
            t = time.perf_counter()
            Xtr, (Xte,), tf = featurize(dtr, [dte])
            base = model().fit(Xtr, ytr)
            base_proba = base.predict_proba(Xte)
            base_secs = time.perf_counter() - t
            if "A" in todo:
                save("A", base_proba, base_secs, {"eligible_unlabelled": int(eligible.sum())})
            t = time.perf_counter()
            base_fold = {form: base.predict_proba(tf(docs)) for form, docs in forms.items()}
            predict_secs = (time.perf_counter() - t) / 2  # one form per variant

        for v in todo:
            if not v.startswith("ST-"):
                continue
            _st, form, tname, *rounds = v.split("-")
            thr = float(tname[1:])
            docs = forms[form]
            t = time.perf_counter()
            Pu = base_fold[form]
            for r in range(1 + len(rounds)):
                chosen = np.flatnonzero(Pu.max(1) >= thr)
                pseudo = Pu[chosen].argmax(1)
                d_aug = dtr + [docs[i] for i in chosen]
                y_aug = np.concatenate([ytr, pseudo])
                if r < len(rounds):  # refit, relabel all eligible messages, go round again
                    (Pu,) = fit_predict(d_aug, y_aug, [docs])
            (proba,) = fit_predict(d_aug, y_aug, [dte])
            secs = base_secs + predict_secs + time.perf_counter() - t
            counts = np.bincount(pseudo, minlength=K).tolist()
            save(v, proba, secs, {"added": int(len(chosen)), "added_per_label": counts})

        for v in todo:
            if not v.startswith("TAX-"):
                continue
            scale = float(v.split("-s")[1])
            t = time.perf_counter()
            Xtr, (Xte,), _tf = featurize(dtr, [dte])
            Xtr = sp.hstack([Xtr, sp.csr_matrix(scale * tax_all[tr])]).tocsr()
            Xte = sp.hstack([Xte, sp.csr_matrix(scale * tax_all[te])]).tocsr()
            proba = model().fit(Xtr, ytr).predict_proba(Xte)
            save(v, proba, time.perf_counter() - t)

    print("pooled out-of-fold, 5 folds:")
    for v in wanted:
        if not all(path(v, f).exists() for f in range(len(splits))):
            print(f"{v}: not all folds measured")
            continue
        P = np.zeros((len(y), K))
        secs = []
        for f, (_tr, te) in enumerate(splits):
            with np.load(path(v, f)) as data:
                P[te] = data["proba"]
                secs.append(float(data["secs"]))
        pred = P.argmax(1)
        row = dict(
            name=v,
            f1=round(f1_score(y, pred, average="macro"), 4),
            acc=round(accuracy_score(y, pred), 4),
            cov=round(coverage_at(P.max(1), pred == y), 4),
            s=round(float(np.mean(secs)), 1),
        )
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
