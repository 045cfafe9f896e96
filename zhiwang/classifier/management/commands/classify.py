"""``zhiwang classify train|predict``: train a text classifier from a file, or label a file with one.

    zhiwang classify train --input messages.csv --text-column 标题 --text-column 内容 \\
        --label-column 一级分类 --output var/models/category-new [--presegmented] [--cv 5]
    zhiwang classify predict --model var/models/category-new --input new.xlsx \\
        --text-column 内容 --output labelled.csv

Several ``--text-column`` are joined (title, then body). ``predict`` adds the columns
``predicted_label``, ``confidence``, ``top_3`` and ``decision`` (auto/queue at the model's
stored threshold) to every row. ``evaluate`` measures a model on held-back labelled rows
(macro-F1, accuracy, the threshold for the target precision and the coverage it gives) and,
with ``--against``, compares it with the current model and says whether to promote it.
CSV (UTF-8, GBK/GB18030) or .xlsx in; progress on stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from zhiwang.classifier.ml import FEATURE_KINDS, FeatureConfig, TrainedModel, train
from zhiwang.classifier.ml.evaluation import TARGET_PRECISION, Evaluation, compare
from zhiwang.classifier.ml.tabular import read_table, require_columns, write_table
from zhiwang.classifier.ml.training import NOT_MEASURED_DISABLED, measurement_note
from zhiwang.core.errors import ServiceError

OUTPUT_COLUMNS = ("predicted_label", "confidence", "top_3", "decision")


def _joined_text(row: dict[str, str], columns: list[str]) -> str:
    return "\n".join(row.get(c, "") for c in columns if row.get(c, "").strip())


def _check_output_file(path: Path) -> None:
    """Refuse an ``--output`` file that cannot be written, before any work is done.

    A directory, a path under a file, or a folder where no file can be created (read-only,
    ``/proc``…): the nearest existing folder is tried with a temporary file.
    """
    if path.is_dir():
        raise CommandError(_("%(path)s is a directory; --output names the file to write.") % {"path": path})
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        if not folder.is_dir():
            raise NotADirectoryError(_("%(path)s is not a directory") % {"path": folder})
        if path.exists():
            with open(path, "ab"):
                pass
        else:
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as error:
        raise CommandError(_("Cannot write %(path)s: %(error)s") % {"path": path, "error": error}) from error


class Command(BaseCommand):
    help = "Train a text classifier from a CSV/Excel file, or predict labels for one."
    # Works on files only; a file job need not import every URLconf and view to run the checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{train,predict,evaluate}")
        t = sub.add_parser("train", help="train a model and save it as a model directory")
        t.add_argument("--input", required=True, help="CSV or .xlsx file with texts and labels")
        t.add_argument(
            "--text-column",
            action="append",
            required=True,
            dest="text_columns",
            help="column holding text; repeat to join several (title, body)",
        )
        t.add_argument("--label-column", required=True)
        t.add_argument("--output", required=True, help="model directory to write")
        t.add_argument(
            "--presegmented",
            action="store_true",
            default=None,
            help="texts are already segmented into space-separated words (default: detect)",
        )
        t.add_argument(
            "--cv", type=int, default=5, help="cross-validation folds for metrics and threshold; 0: skip"
        )
        t.add_argument(
            "--features",
            choices=FEATURE_KINDS,
            default=FeatureConfig().kind,
            help="word: jieba words; char: character n-grams; lexicon: training words found in the text",
        )
        t.add_argument("--register", metavar="NAME", help="also record the model in the registry under NAME")
        t.add_argument("--promote", action="store_true", help="with --register: make it the active model")

        p = sub.add_parser("predict", help="add predicted labels to every row of a file")
        p.add_argument("--model", required=True, help="model directory written by 'train'")
        p.add_argument("--input", required=True)
        p.add_argument("--text-column", action="append", required=True, dest="text_columns")
        p.add_argument("--output", required=True, help="CSV (UTF-8 with BOM) or .xlsx file to write")
        p.add_argument("--presegmented", action="store_true", default=None)
        p.add_argument("--top-k", type=int, default=3)
        p.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            help="processes for a batch of 2,000 texts or more (features and scoring)",
        )
        p.add_argument(
            "--threshold",
            type=float,
            default=None,
            help="auto-dispatch threshold for the decision column (default: the model's)",
        )

        e = sub.add_parser("evaluate", help="measure a model on held-back labelled rows, or compare two")
        e.add_argument("--model", required=True, help="model directory to measure (the candidate)")
        e.add_argument("--against", help="model directory in use now, to compare the candidate with")
        e.add_argument("--input", required=True)
        e.add_argument("--text-column", action="append", required=True, dest="text_columns")
        e.add_argument("--label-column", required=True)
        e.add_argument("--presegmented", action="store_true", default=None)
        e.add_argument("--target-precision", type=float, default=TARGET_PRECISION)
        e.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            help="processes for a batch of 2,000 texts or more (features and scoring)",
        )

    def handle(self, *args, **options):
        try:
            if options["action"] == "train":
                self._train(options)
            elif options["action"] == "evaluate":
                self._evaluate(options)
            else:
                self._predict(options)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    # --- train ------------------------------------------------------------------

    def _train(self, options):
        from tqdm import tqdm

        output = Path(options["output"])
        if output.exists() and not output.is_dir():
            raise CommandError(
                _("%(path)s is a file; --output names the model directory to write.") % {"path": output}
            )
        columns, rows = read_table(options["input"])
        require_columns(options["input"], columns, [*options["text_columns"], options["label_column"]])
        if not rows:
            raise CommandError(_("%(path)s has no data rows.") % {"path": options["input"]})
        texts = [_joined_text(r, options["text_columns"]) for r in rows]
        labels = [r.get(options["label_column"], "") for r in rows]
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(
                    total=total,
                    desc=stage,
                    file=sys.stderr,
                    leave=True,
                    disable=options.get("verbosity", 1) == 0,
                )
            bar.update(done - bar.n)

        try:
            model = train(
                texts,
                labels,
                presegmented=options["presegmented"],
                cv=options["cv"],
                features=FeatureConfig(kind=options["features"]),
                progress=progress,
                name=options.get("register") or "category",
            )
        finally:
            for bar in bars.values():
                bar.close()
        try:
            model.save(output)
        except OSError as error:
            raise CommandError(
                _("Cannot write the model directory %(path)s: %(error)s") % {"path": output, "error": error}
            ) from error
        self._report(model, options["output"])
        if options.get("register"):
            from zhiwang.classifier import services

            record = services.model_register(name=options["register"], directory=options["output"])
            if options.get("promote"):
                record = services.model_promote(model=record)
            self.stdout.write(_("Registered as %(model)s.") % {"model": record})

    def _report(self, model: TrainedModel, output: str) -> None:
        meta = model.metadata
        metrics = meta.get("metrics") or {}
        self.stdout.write(
            _("Saved %(path)s: %(count)d texts, %(labels)d labels, %(seconds)s s.")
            % {
                "path": output,
                "count": meta["training_size"],
                "labels": len(model.labels),
                "seconds": meta["training_seconds"],
            }
        )
        if meta.get("skipped_rows"):
            self.stdout.write(_("Skipped %(count)d rows without a label.") % {"count": meta["skipped_rows"]})
        note = measurement_note(metrics)
        if metrics.get("macro_f1") is not None:
            self.stdout.write(
                _(
                    "Cross-validation: macro-F1 %(f1).4f, accuracy %(acc).4f; at %(target).0f%% precision "
                    "%(coverage).1f%% of texts go automatically (threshold %(threshold)s)."
                )
                % {
                    "f1": metrics["macro_f1"],
                    "acc": metrics["accuracy"],
                    "target": 100 * metrics["target_precision"],
                    "coverage": 100 * metrics["coverage_at_target"],
                    "threshold": "-" if metrics["threshold"] is None else f"{metrics['threshold']:.3f}",
                }
            )
            if note:  # labels too small to be measured
                self.stdout.write(note)
        else:
            self.stdout.write(_("No cross-validation: the model has no auto-dispatch threshold."))
            if metrics.get("not_measured") != NOT_MEASURED_DISABLED and note:  # why not
                self.stdout.write(note)

    # --- predict ----------------------------------------------------------------

    def _predict(self, options):
        from tqdm import tqdm

        output = Path(options["output"])
        _check_output_file(output)
        model = TrainedModel.load(options["model"])
        columns, rows = read_table(options["input"])
        require_columns(options["input"], columns, options["text_columns"])
        threshold = options["threshold"] if options["threshold"] is not None else model.threshold
        jobs = max(1, options["jobs"])
        chunk = 2000 * jobs if jobs > 1 else 1000
        with tqdm(
            total=len(rows),
            desc="predict",
            unit="rows",
            file=sys.stderr,
            disable=options.get("verbosity", 1) == 0,
        ) as bar:
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                texts = [_joined_text(r, options["text_columns"]) for r in part]
                # the platform's own rule (TrainedModel.predictions): a text with nothing the
                # model knows (English, digits, punctuation…) gets no label, and one with too
                # few known words is queued however confident; a person decides both
                predictions = model.predictions(
                    texts,
                    threshold=threshold,
                    top_k=options["top_k"],
                    presegmented=options["presegmented"],
                    n_jobs=jobs,
                )
                for row, prediction in zip(part, predictions, strict=True):
                    choices = prediction.choices
                    row["predicted_label"] = choices[0][0] if choices else ""
                    row["confidence"] = f"{choices[0][1]:.4f}" if choices else "0.0000"
                    row["top_3"] = "; ".join(f"{label}:{p:.3f}" for label, p in choices)
                    row["decision"] = prediction.decision
                bar.update(len(part))
        out_columns = [c for c in columns if c not in OUTPUT_COLUMNS] + list(OUTPUT_COLUMNS)
        try:
            write_table(output, out_columns, rows)
        except OSError as error:
            raise CommandError(
                _("Cannot write %(path)s: %(error)s") % {"path": output, "error": error}
            ) from error
        self.stdout.write(
            _("Wrote %(count)d rows to %(path)s.") % {"count": len(rows), "path": options["output"]}
        )

    # --- evaluate ---------------------------------------------------------------

    def _evaluate(self, options):
        target = options["target_precision"]
        if not 0.0 < target <= 1.0:
            raise CommandError(_("The target precision must lie between 0 and 1."))
        candidate = TrainedModel.load(options["model"])
        current = TrainedModel.load(options["against"]) if options.get("against") else None
        columns, rows = read_table(options["input"])
        require_columns(options["input"], columns, [*options["text_columns"], options["label_column"]])
        texts = [_joined_text(r, options["text_columns"]) for r in rows]
        labels = [r.get(options["label_column"], "") for r in rows]
        result = compare(
            candidate,
            current,
            texts,
            labels,
            presegmented=options["presegmented"],
            target_precision=target,
            n_jobs=max(1, options["jobs"]),
        )
        self._figures(options["model"], result.candidate)
        if result.current is not None:
            self._figures(options["against"], result.current)
            for reason in result.reasons:
                self.stdout.write(reason)
            self.stdout.write(
                _("Recommendation: promote the candidate.")
                if result.recommend
                else _("Recommendation: keep the current model.")
            )

    def _figures(self, path: str, result: Evaluation) -> None:
        self.stdout.write(
            _(
                "%(path)s on %(count)d labelled texts: macro-F1 %(f1).4f, accuracy %(acc).4f; "
                "at %(target).1f%% precision %(coverage).1f%% of texts go automatically (threshold %(threshold)s)."
            )
            % {
                "path": path,
                "count": result.count,
                "f1": result.macro_f1,
                "acc": result.accuracy,
                "target": 100 * result.target_precision,
                "coverage": 100 * result.coverage_at_target,
                "threshold": "-" if result.threshold is None else f"{result.threshold:.3f}",
            }
        )
        if result.coverage_at_model_threshold is not None:
            self.stdout.write(
                _(
                    "With the model's own threshold: %(coverage).1f%% automatic at %(precision).1f%% precision."
                )
                % {
                    "coverage": 100 * result.coverage_at_model_threshold,
                    "precision": 100 * result.precision_at_model_threshold,
                }
            )
        if result.queued_short:
            self.stdout.write(
                _(
                    "%(count)d texts have too few known words and are always queued (counted as "
                    "never automatic)."
                )
                % {"count": result.queued_short}
            )
        if result.unknown_labels:
            self.stdout.write(
                _("Labels the model never saw (counted as errors): %(labels)s")
                % {"labels": ", ".join(f"{k} ({v})" for k, v in result.unknown_labels.items())}
            )
