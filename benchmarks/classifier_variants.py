"""Exploratory comparison of category-model variants on the labelled messages (issue 7).

Same duplicate-aware 5 folds as ``classifier_eval.py``; features fitted per fold. Prints one
JSON line per variant (macro-F1, accuracy, coverage at 98 % precision by top probability and
by top-2 margin, mean fit seconds per fold), then averages of variants, then a second-stage
selective rule and stacking on the out-of-fold probabilities. Slow (about 10-40 minutes on
2 cores); the figures are in docs/benchmarks.md. Needs ../shared/data/complaints/.

    .venv/bin/python benchmarks/classifier_variants.py
"""

import json
import time
import warnings

import numpy as np
import scipy.sparse as sp
from classifier_eval import coverage_at, duplicate_aware_folds
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC


def main() -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_I18N=False)  # gettext in error messages; nothing else is needed
    from zhiwang.classifier.ml import FeatureConfig
    from zhiwang.classifier.ml.features import CharNgramVectorizer, build_features

    warnings.filterwarnings("ignore")
    prepared, y, names, splits = duplicate_aware_folds()
    K = len(names)

    def summ(name, P, secs):
        pred = P.argmax(1)
        conf = P.max(1)
        ok = pred == y
        srt = np.sort(P, 1)
        margin = srt[:, -1] - srt[:, -2]
        r = dict(
            name=name,
            f1=f1_score(y, pred, average="macro"),
            acc=accuracy_score(y, pred),
            cov=coverage_at(conf, ok),
            cov_margin=coverage_at(margin, ok),
            s=secs,
        )
        print(json.dumps(r, ensure_ascii=False), flush=True)
        return r

    def cal(est, method="sigmoid"):
        return CalibratedClassifierCV(est, method=method, cv=5, ensemble=False)

    P = {}
    T = {}

    def add(name, fold, te, proba, secs):
        P.setdefault(name, np.zeros((len(y), K)))[te] = proba
        T[name] = T.get(name, 0) + secs

    for f, (tr, te) in enumerate(splits):
        dtr = [prepared[i] for i in tr]
        dte = [prepared[i] for i in te]
        feats = build_features(FeatureConfig(), n_docs=len(tr))
        feats.fit(dtr)
        Xtr = sp.hstack([b.transform(dtr) for _, b in feats.transformer_list]).tocsr()
        Xte = sp.hstack([b.transform(dte) for _, b in feats.transformer_list]).tocsr()
        ytr = y[tr]

        def run(name, est, Xa=Xtr, Xb=Xte, ytr=ytr, f=f, te=te):
            t = time.perf_counter()
            est.fit(Xa, ytr)
            add(name, f, te, est.predict_proba(Xb), time.perf_counter() - t)
            print(f, name, round(time.perf_counter() - t, 1), flush=True)

        run("A lexicon+char13 SVC C0.5 sig (default)", cal(LinearSVC(C=0.5)))
        run("B same, class_weight=balanced", cal(LinearSVC(C=0.5, class_weight="balanced")))
        run(
            "D SGD modified_huber sig",
            cal(SGDClassifier(loss="modified_huber", alpha=5e-5, max_iter=50, tol=None, random_state=0)),
        )
        # char 1-4 + lexicon
        c4 = CharNgramVectorizer((1, 4), min_df=2).fit(dtr)
        lex = feats.transformer_list[0][1]
        X4tr = sp.hstack([lex.transform(dtr), c4.transform(dtr)]).tocsr()
        X4te = sp.hstack([lex.transform(dte), c4.transform(dte)]).tocsr()
        run("F lexicon+char14 SVC sig", cal(LinearSVC(C=0.5)), X4tr, X4te)
        # word uni+bigram (jieba tokens) + char13 (needs jieba at prediction: quality only)
        wv = TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(dtr)
        Xwtr = sp.hstack([wv.transform(dtr), Xtr]).tocsr()
        Xwte = sp.hstack([wv.transform(dte), Xte]).tocsr()
        run("G word12+lexicon+char13 SVC sig", cal(LinearSVC(C=0.5)), Xwtr, Xwte)
        # Complement NB on raw counts (binary-ish) of lexicon+char
        Btr = (Xtr > 0).astype(np.float64)
        Bte = (Xte > 0).astype(np.float64)
        run("H ComplementNB binary counts", ComplementNB(alpha=0.3), Btr, Bte)
        # NB-SVM: one-vs-rest log-count ratio scaling, LinearSVC per class, then softmax-ish via calibration
        t = time.perf_counter()
        dec_tr = np.zeros((len(tr), K))
        # calibrate via inner OOF decisions -> multinomial LR on decisions
        inner = list(StratifiedKFold(3, shuffle=True, random_state=0).split(Btr, ytr))

        def nbsvm_fit_dec(Xa, ya, Xb):
            out = np.zeros((Xb.shape[0], K))
            for k in range(K):
                pos = ya == k
                p = np.asarray(Xa[pos].sum(0)).ravel() + 1
                q = np.asarray(Xa[~pos].sum(0)).ravel() + 1
                r = np.log((p / p.sum()) / (q / q.sum()))
                R = sp.diags(r)
                clf = LinearSVC(C=0.05, max_iter=300).fit(Xa @ R, pos.astype(int))
                out[:, k] = clf.decision_function(Xb @ R)
            return out

        for itr, ite in inner:
            dec_tr[ite] = nbsvm_fit_dec(Btr[itr], ytr[itr], Btr[ite])
        dec_te = nbsvm_fit_dec(Btr, ytr, Bte)
        st = LogisticRegression(C=1.0, max_iter=2000).fit(dec_tr, ytr)
        add(
            "I NB-SVM (log-count ratio, binary) + LR calib",
            f,
            te,
            st.predict_proba(dec_te),
            time.perf_counter() - t,
        )
        print(f, "I", round(time.perf_counter() - t, 1), flush=True)
        print("fold", f, "done", flush=True)

    rows = [summ(n, P[n], T[n] / 5) for n in P]

    # averages / blends
    def blend(name, parts, w=None):
        w = w or [1] * len(parts)
        Q = sum(wi * P[p] for wi, p in zip(w, parts, strict=True)) / sum(w)
        rows.append(summ(name, Q, sum(T[p] for p in parts) / 5))

    A = "A lexicon+char13 SVC C0.5 sig (default)"
    D = "D SGD modified_huber sig"
    H = "H ComplementNB binary counts"
    I_ = "I NB-SVM (log-count ratio, binary) + LR calib"
    G = "G word12+lexicon+char13 SVC sig"
    F = "F lexicon+char14 SVC sig"
    B = "B same, class_weight=balanced"
    blend("avg A+I", [A, I_])
    blend("avg A+D", [A, D])
    blend("avg A+H", [A, H])
    blend("avg A+D+I", [A, D, I_])
    blend("avg A+F+G+I", [A, F, G, I_])
    blend("avg A+B+D+F+G+H+I", [A, B, D, F, G, H, I_])
    d = {"y": y, **{n[:1]: P[n] for n in P}}

    # --- selective rules and stacking on the out-of-fold probabilities ----------------------------
    K = 7

    def conf_feats(P):
        s = np.sort(P, 1)
        ent = -(P * np.log(P + 1e-12)).sum(1)
        return np.column_stack([s[:, -1], s[:, -2], s[:, -1] - s[:, -2], ent, np.eye(K)[P.argmax(1)]])

    def second_stage(P):
        X = conf_feats(P)
        ok = (P.argmax(1) == y).astype(int)
        score = np.zeros(len(y))
        for tr, te in splits:
            score[te] = LogisticRegression(C=1.0, max_iter=2000).fit(X[tr], ok[tr]).predict_proba(X[te])[:, 1]
        return score

    def report(name, P):
        pred = P.argmax(1)
        ok = pred == y
        s = np.sort(P, 1)
        print(
            json.dumps(
                dict(
                    name=name,
                    f1=round(f1_score(y, pred, average="macro"), 4),
                    acc=round(accuracy_score(y, pred), 4),
                    cov_prob=round(coverage_at(s[:, -1], ok), 4),
                    cov_margin=round(coverage_at(s[:, -1] - s[:, -2], ok), 4),
                    cov_second_stage=round(coverage_at(second_stage(P), ok), 4),
                ),
                ensure_ascii=False,
            ),
            flush=True,
        )

    for k in sorted(d):
        if k != "y":
            report(k, d[k])
    # stacking: multinomial LR on concatenated OOF probabilities of base models, cross-fitted on the outer folds
    for combo in (["A", "I"], ["A", "D", "I"], ["A", "F", "G", "I"], ["A", "B", "D", "F", "G", "H", "I"]):
        Z = np.hstack([np.log(d[k] + 1e-9) for k in combo])
        Q = np.zeros((len(y), K))
        for tr, te in splits:
            Q[te] = LogisticRegression(C=1.0, max_iter=3000).fit(Z[tr], y[tr]).predict_proba(Z[te])
        report("stack " + "+".join(combo), Q)


if __name__ == "__main__":
    main()
