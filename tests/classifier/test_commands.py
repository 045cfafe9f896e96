"""`zhiwang classify train|predict` end to end on small CSV (UTF-8, GBK) and Excel files."""

from __future__ import annotations

import csv

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from zhiwang.classifier.ml import TrainedModel

TITLE, BODY, LABEL = "标题", "内容", "类别"


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([TITLE, BODY, LABEL])
        writer.writerows(rows)
    return path


@pytest.fixture
def rows(corpus):
    texts, labels = corpus
    return [[t[:6], t[6:], label] for t, label in zip(texts, labels, strict=True)]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, corpus):
    texts, labels = corpus
    path = tmp_path_factory.mktemp("cmd") / "train.csv"
    write_csv(path, [[t[:6], t[6:], label] for t, label in zip(texts, labels, strict=True)], "utf-8-sig")
    out = path.parent / "model"
    call_command(
        "classify",
        "train",
        "--input",
        str(path),
        "--text-column",
        TITLE,
        "--text-column",
        BODY,
        "--label-column",
        LABEL,
        "--output",
        str(out),
        "--cv",
        "2",
        verbosity=0,
    )
    return out


def read_output(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_train_writes_a_model_directory(model_path, corpus):
    model = TrainedModel.load(model_path)
    assert model.labels == sorted(set(corpus[1]))
    assert model.metadata["metrics"]["macro_f1"] is not None


def test_predict_gbk_csv(model_path, tmp_path, capsys):
    source = write_csv(
        tmp_path / "in.csv",
        [["电梯", "小区电梯故障物业不修", ""], ["", "", ""], ["Hello", "English only", ""]],
        encoding="gbk",
    )
    out = tmp_path / "out.csv"
    call_command(
        "classify",
        "predict",
        "--model",
        str(model_path),
        "--input",
        str(source),
        "--text-column",
        TITLE,
        "--text-column",
        BODY,
        "--output",
        str(out),
        "--jobs",
        "1",
    )
    result = read_output(out)
    assert len(result) == 2  # the blank row is not a row
    assert list(result[0])[:3] == [TITLE, BODY, LABEL]
    assert result[0]["predicted_label"] == "城乡建设"
    assert float(result[0]["confidence"]) > float(result[1]["confidence"])
    assert result[0]["top_3"].count(":") == 3
    assert result[1]["decision"] == "queue"
    # English only: the model knows nothing in it, so no label (not the first in label order)
    assert (result[1]["predicted_label"], result[1]["top_3"]) == ("", "")
    assert str(out) in capsys.readouterr().out


def test_predict_excel_in_and_out(model_path, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["编号", BODY])
    book.active.append([1, "化工厂排放废气，空气刺鼻"])
    book.active.append([2, None])
    # a citizen's text that starts with "=" is read as text and must come back as text
    from zhiwang.core.spreadsheet import xlsx_row

    book.active.append(xlsx_row(book.active, [3, '=HYPERLINK("http://x.example","化工厂")']))
    book.save(tmp_path / "in.xlsx")
    call_command(
        "classify",
        "predict",
        "--model",
        str(model_path),
        "--input",
        str(tmp_path / "in.xlsx"),
        "--text-column",
        BODY,
        "--output",
        str(tmp_path / "out.xlsx"),
        verbosity=0,
    )
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    values = list(sheet.values)
    assert values[0] == ("编号", BODY, "predicted_label", "confidence", "top_3", "decision")
    assert values[1][2] == "环境保护"
    assert len(values) == 4
    assert values[3][1] == '=HYPERLINK("http://x.example","化工厂")'
    assert all(c.data_type != "f" for c in list(sheet.iter_rows())[3])


def test_train_with_presegmented_gbk_input(rows, tmp_path):
    from zhiwang.classifier.ml import prepare

    segmented = [[" ".join(prepare([t])), " ".join(prepare([b])), label] for t, b, label in rows]
    source = write_csv(tmp_path / "seg.csv", segmented, encoding="gb18030")
    call_command(
        "classify",
        "train",
        "--input",
        str(source),
        "--text-column",
        BODY,
        "--label-column",
        LABEL,
        "--output",
        str(tmp_path / "m"),
        "--presegmented",
        "--cv",
        "0",
        "--features",
        "char",
        verbosity=0,
    )
    assert TrainedModel.load(tmp_path / "m").feature_config.kind == "char"


def test_missing_column_is_named(model_path, rows, tmp_path):
    source = write_csv(tmp_path / "in.csv", rows)
    with pytest.raises(CommandError, match="正文|text|正文"):
        call_command(
            "classify",
            "predict",
            "--model",
            str(model_path),
            "--input",
            str(source),
            "--text-column",
            "正文",
            "--output",
            str(tmp_path / "o.csv"),
        )
    with pytest.raises(CommandError, match="分类"):
        call_command(
            "classify",
            "train",
            "--input",
            str(source),
            "--text-column",
            BODY,
            "--label-column",
            "分类",
            "--output",
            str(tmp_path / "m"),
        )


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", "标题,内容,类别\n".encode()])
def test_empty_files_are_refused(tmp_path, content):
    source = tmp_path / "empty.csv"
    source.write_bytes(content)
    with pytest.raises(CommandError):
        call_command(
            "classify",
            "train",
            "--input",
            str(source),
            "--text-column",
            BODY,
            "--label-column",
            LABEL,
            "--output",
            str(tmp_path / "m"),
        )


def test_unreadable_inputs(model_path, tmp_path):
    with pytest.raises(CommandError, match="nothing.csv"):
        call_command(
            "classify",
            "predict",
            "--model",
            str(model_path),
            "--input",
            str(tmp_path / "nothing.csv"),
            "--text-column",
            BODY,
            "--output",
            str(tmp_path / "o.csv"),
        )
    (tmp_path / "broken.xlsx").write_bytes(b"PK not really a workbook")
    with pytest.raises(CommandError, match="broken.xlsx"):
        call_command(
            "classify",
            "predict",
            "--model",
            str(model_path),
            "--input",
            str(tmp_path / "broken.xlsx"),
            "--text-column",
            BODY,
            "--output",
            str(tmp_path / "o.csv"),
        )
    with pytest.raises(CommandError, match="metadata.json"):
        call_command(
            "classify",
            "predict",
            "--model",
            str(tmp_path),
            "--input",
            str(tmp_path / "x.csv"),
            "--text-column",
            BODY,
            "--output",
            str(tmp_path / "o.csv"),
        )


@pytest.mark.django_db
def test_train_register_and_promote(rows, tmp_path, model_dir):
    from zhiwang.classifier import selectors

    source = write_csv(tmp_path / "in.csv", rows)
    call_command(
        "classify",
        "train",
        "--input",
        str(source),
        "--text-column",
        TITLE,
        "--text-column",
        BODY,
        "--label-column",
        LABEL,
        "--output",
        str(tmp_path / "m"),
        "--cv",
        "0",
        "--register",
        "category",
        "--promote",
        verbosity=0,
    )
    assert selectors.active_model("category").version == 1


def test_quoted_multiline_fields_and_tab_separated_files(tmp_path):
    from zhiwang.classifier.ml.tabular import read_table

    write_csv(tmp_path / "q.csv", [["标题", '他说："电梯坏了"，\n第二行, 还有逗号', "城乡建设"]])
    columns, rows = read_table(tmp_path / "q.csv")
    assert columns == [TITLE, BODY, LABEL]
    assert rows == [{TITLE: "标题", BODY: '他说："电梯坏了"，\n第二行, 还有逗号', LABEL: "城乡建设"}]
    (tmp_path / "t.tsv").write_text("内容\t类别\n电梯坏了\t城乡建设\n", encoding="utf-8")
    assert read_table(tmp_path / "t.tsv") == ([BODY, LABEL], [{BODY: "电梯坏了", LABEL: "城乡建设"}])


@translation.override("en")
def test_evaluate_and_compare_on_a_held_back_file(model_path, tmp_path, capsys):
    from .conftest import make_corpus

    texts, labels = make_corpus(per_template=2, seed=5)
    held = [[t[:6], t[6:], label] for t, label in zip(texts, labels, strict=True)]
    held.append(["医院挂号难", "排队三小时", "卫生计生"])  # a label the model never saw
    path = write_csv(tmp_path / "held.csv", held, "gbk")
    args = ["--input", str(path), "--text-column", TITLE, "--text-column", BODY, "--label-column", LABEL]
    call_command("classify", "evaluate", "--model", str(model_path), *args, "--jobs", "1")
    out = capsys.readouterr().out
    assert f"on {len(held)} labelled texts" in out and "macro-F1" in out
    assert "卫生计生 (1)" in out

    call_command("classify", "evaluate", "--model", str(model_path), "--against", str(model_path), *args)
    out = capsys.readouterr().out
    assert "keep the current model" in out  # the same model is no better than itself

    with pytest.raises(CommandError, match="target precision"):
        call_command("classify", "evaluate", "--model", str(model_path), *args, "--target-precision", "1.5")
    with pytest.raises(CommandError, match="类别X"):
        call_command("classify", "evaluate", "--model", str(model_path), *args[:-1], "类别X")
