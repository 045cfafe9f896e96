"""openpyxl reads a person's workbook in a child process under a memory and time limit
(zhiwang.core.xlsx_child): what the guard cannot count is refused there, with a clear error,
while the caller stays small; a normal workbook reads as openpyxl reads it in-process."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
import zipfile
from pathlib import Path
from xml.etree.ElementTree import ParseError

import openpyxl
import pytest
from django.utils.translation import gettext
from lxml import etree

from tests.core.xlsx_child_files import (
    SMALL_LIMIT_MB,
    long_texts_workbook,
    long_workbook,
    merged_ranges_bomb,
    normal_workbook,
    parser_memory_bomb,
    slow_sheet,
)
from tests.xlsx_bombs import header_row, write_workbook
from zhiwang.core import xlsx_child
from zhiwang.core.errors import ServiceError
from zhiwang.core.xlsx_child import XlsxUnreadable, open_xlsx, worker
from zhiwang.core.xlsx_guard import check_xlsx

MEMORY_MESSAGE = (
    "The Excel file is too complex to read: it needs more than %(limit)d MB of memory (merged cells, "
    "formats or validations in great number); save it again in Excel or WPS, or as CSV."
)
TIME_MESSAGE = (
    "The Excel file is too complex to read: reading it took more than %(seconds)d seconds; split it "
    "into smaller files, or save it as CSV."
)

pytestmark = pytest.mark.skipif(not xlsx_child.isolated(), reason="no resource module: read in-process")


def in_process_rows(path: Path, **options) -> tuple[int | None, list[tuple]]:
    """How the readers read a workbook before: openpyxl, read-only, in this process."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        max_row = sheet.max_row
        if options.get("reset_dimensions"):
            sheet.reset_dimensions()
        return max_row, list(sheet.iter_rows(values_only=True))
    finally:
        book.close()


def child_pids() -> set[int]:
    """This process's living (or unreaped) children."""
    pid = os.getpid()
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


@pytest.fixture
def quiet_tmp(tmp_path, monkeypatch):
    """A temporary folder of its own, and the children before: what a test leaves is seen."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = child_pids()
    yield scratch
    assert list(scratch.iterdir()) == []  # no temporary file, no core dump
    assert child_pids() <= before  # every child ended and reaped


# --- the hole the guard leaves ------------------------------------------------------------------


def test_a_merged_ranges_bomb_passes_the_guard_and_is_refused_in_the_child(tmp_path, quiet_tmp):
    path = merged_ranges_bomb(tmp_path / "merged.xlsx")
    assert path.stat().st_size < 2 << 20
    check_xlsx(path)  # size, ratio and counts are all within the guard's limits
    tracemalloc.start()
    try:
        with pytest.raises(ServiceError) as caught:
            with open_xlsx(path, field="upload", memory_mb=SMALL_LIMIT_MB, seconds=120) as sheet:
                for _row in sheet:
                    pass
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = caught.value
    assert (error.code, error.field) == ("file.xlsx_too_complex", "upload")
    assert error.message == gettext(MEMORY_MESSAGE) % {"limit": SMALL_LIMIT_MB}
    assert peak < 4 << 20  # openpyxl took about 230 MB for it, in the child


def test_the_limit_comes_from_the_settings(tmp_path, settings, quiet_tmp):
    settings.ZHIWANG_XLSX_CHILD_MEMORY_MB = SMALL_LIMIT_MB
    path = merged_ranges_bomb(tmp_path / "merged.xlsx")
    with pytest.raises(ServiceError) as caught:
        with open_xlsx(path, field="file", fill_merged=True) as sheet:
            list(sheet)
    assert caught.value.code == "file.xlsx_too_complex"
    assert f"{SMALL_LIMIT_MB} MB" in caught.value.message


def test_the_settings_have_defaults(settings):
    del settings.ZHIWANG_XLSX_CHILD_MEMORY_MB, settings.ZHIWANG_XLSX_CHILD_SECONDS
    assert xlsx_child.child_limits() == (1024, 300.0)


def test_a_child_that_takes_too_long_is_stopped(tmp_path, quiet_tmp):
    path = long_workbook(tmp_path / "long.xlsx", 20_000)
    with pytest.raises(ServiceError) as caught:
        with open_xlsx(path, field="input", seconds=0.05) as sheet:
            list(sheet)
    assert (caught.value.code, caught.value.field) == ("file.xlsx_too_complex", "input")
    assert caught.value.message == gettext(TIME_MESSAGE) % {"seconds": 0}


def test_the_time_the_caller_spends_on_the_rows_is_not_counted(tmp_path, quiet_tmp, monkeypatch):
    # A slow consumer (the registry writes each chunk to the database) is no slow file: only the
    # waits for the child count. The clock jumps an hour between two rows the caller works on.
    path = long_workbook(tmp_path / "long.xlsx", 3_000)
    clock = [0.0]
    monkeypatch.setattr(xlsx_child.time, "monotonic", lambda: clock[0])
    with open_xlsx(path, field="file", seconds=30) as sheet:
        rows = 0
        for _row in sheet:
            rows += 1
            clock[0] += 3600.0
    assert rows == 3_001


def test_the_cpu_limit_is_reported_as_time(tmp_path, quiet_tmp, monkeypatch):
    # SIGXCPU at the child's CPU limit (the wall-time budget of the reader not yet spent)
    path = merged_ranges_bomb(tmp_path / "merged.xlsx")  # about 230 MB and 6 s: within 1024 MB
    monkeypatch.setattr(xlsx_child, "_cpu_seconds", lambda seconds: 1)  # 1 s of CPU, 60 s of waiting
    with pytest.raises(ServiceError) as caught:
        with open_xlsx(path, field="file", seconds=60) as sheet:
            list(sheet)
    assert caught.value.code == "file.xlsx_too_complex"
    assert caught.value.message == gettext(TIME_MESSAGE) % {"seconds": 60}


# --- a normal workbook reads as before -----------------------------------------------------------


def test_a_normal_workbook_reads_as_openpyxl_reads_it_in_process(tmp_path, quiet_tmp):
    path = normal_workbook(tmp_path / "people.xlsx")
    max_row, expected = in_process_rows(path)
    with open_xlsx(path, field="file") as sheet:
        assert (sheet.worksheets, sheet.max_row, sheet.sheet_path) == (1, max_row, "xl/worksheets/sheet1.xml")
        rows = list(sheet)
    assert rows == expected
    assert [[type(v) for v in row] for row in rows] == [[type(v) for v in row] for row in expected]
    assert rows[1][:4] == ("000123", "张三", dt.datetime(1990, 1, 2), dt.datetime(2024, 5, 6, 7, 8, 9))
    assert rows[2][0] == "0042" and rows[2][7] == dt.time(23, 59)
    assert rows[4][0] == "=不是公式" and rows[4][5] == 10**15 and isinstance(rows[4][5], int)


def test_a_long_workbook_reads_row_for_row_in_batches(tmp_path, quiet_tmp):
    path = long_workbook(tmp_path / "long.xlsx", 5_000)
    _max_row, expected = in_process_rows(path, reset_dimensions=True)
    with open_xlsx(path, field="file", reset_dimensions=True) as sheet:
        assert list(sheet) == expected


def test_the_in_process_fallback_reads_the_same(tmp_path, quiet_tmp, monkeypatch):
    path = normal_workbook(tmp_path / "people.xlsx")
    with open_xlsx(path, field="file") as sheet:
        in_child = list(sheet)
    monkeypatch.setattr(xlsx_child, "resource", None)  # as on Windows
    assert not xlsx_child.isolated()
    before = child_pids()
    with open_xlsx(path, field="file") as sheet:
        assert isinstance(sheet._frames, type(x for x in ()))  # the generator, not a child
        assert list(sheet) == in_child
    assert child_pids() == before


def test_closing_early_ends_the_child(tmp_path, quiet_tmp):
    path = long_workbook(tmp_path / "long.xlsx", 20_000)
    sheet = open_xlsx(path, field="file")
    rows = iter(sheet)
    assert next(rows)[0] == "列0"
    process = sheet._frames.process
    sheet.close()
    assert process.returncode is not None


def test_a_sheet_dropped_unread_ends_its_child(tmp_path, quiet_tmp):
    path = long_workbook(tmp_path / "long.xlsx", 2_000)
    sheet = open_xlsx(path, field="file")
    process = sheet._frames.process
    del sheet  # never iterated nor closed: the garbage collector's finalizer ends the child
    assert process.returncode is not None


def test_rows_beyond_excels_last_are_refused(tmp_path, quiet_tmp, monkeypatch):
    monkeypatch.setattr(xlsx_child, "EXCEL_MAX_ROWS", 20)
    path = write_workbook(tmp_path / "jump.xlsx", rows=header_row("地址") + b'<row r="1000000000"/>')
    with pytest.raises(ServiceError) as caught:
        with open_xlsx(path, field="input") as sheet:
            list(sheet)
    assert (caught.value.code, caught.value.field) == ("file.xlsx_too_many_rows", "input")


def test_the_guard_runs_first(tmp_path, quiet_tmp):
    from tests.xlsx_bombs import shared_strings_bomb

    path = shared_strings_bomb(tmp_path / "bomb.xlsx")
    before = child_pids()
    with pytest.raises(ServiceError) as caught:
        open_xlsx(path, field="file")
    assert caught.value.code == "file.xlsx_too_large_unzipped"
    assert child_pids() == before


def test_a_workbook_openpyxl_cannot_open_is_unreadable(tmp_path, quiet_tmp):
    path = tmp_path / "not-a-workbook.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hello")
    with pytest.raises(XlsxUnreadable) as caught:
        open_xlsx(path, field="file", guard=False)
    assert caught.value.row is None and caught.value.detail


def test_a_damaged_row_is_unreadable_with_its_number(tmp_path, quiet_tmp):
    rows = (
        header_row("地址")
        + b'<row r="2"><c r="A2"><v>1</v></c></row><row r="3"><c r="A3"><v>x1</v></c></row>'
    )
    path = write_workbook(tmp_path / "damaged.xlsx", rows=rows)
    with pytest.raises(XlsxUnreadable) as caught:
        with open_xlsx(path, field="file", guard=False) as sheet:
            list(sheet)
    assert caught.value.row is not None and caught.value.row >= 2


def test_a_workbook_of_charts_only_has_no_worksheet(tmp_path, quiet_tmp):
    from openpyxl.chart import BarChart

    book = openpyxl.Workbook()
    book.create_chartsheet().add_chart(BarChart())
    book.remove(book.active)
    book.save(tmp_path / "charts.xlsx")
    with open_xlsx(tmp_path / "charts.xlsx", field="file") as sheet:
        assert sheet.worksheets == 0
        assert list(sheet) == []


# --- merged ranges filled as the rows pass --------------------------------------------------------


def fill_whole_grid(grid: list[list], ranges: list[tuple[int, int, int, int]]) -> None:
    """How the classifier filled merged ranges before, on the whole grid (the reference)."""
    for min_col, min_row, max_col, max_row in ranges:
        if min_row > len(grid):
            continue
        first = grid[min_row - 1]
        value = first[min_col - 1] if min_col <= len(first) else None
        if value is None:
            continue
        for r in range(min_row - 1, min(max_row, len(grid))):
            row = grid[r]
            if len(row) < max_col:
                row.extend([None] * (max_col - len(row)))
            for c in range(min_col - 1, max_col):
                if row[c] is None:
                    row[c] = value


@pytest.mark.parametrize("seed", range(30))
def test_filling_as_the_rows_pass_equals_filling_the_whole_grid(seed):
    rng = random.Random(seed)
    grid = [
        [rng.choice([None, None, f"v{r}{c}"]) for c in range(rng.randint(0, 7))]
        for r in range(rng.randint(1, 12))
    ]
    ranges = []
    for _ in range(rng.randint(0, 8)):  # overlapping ones too, which Excel would not write
        c1, r1 = rng.randint(1, 8), rng.randint(1, 14)
        ranges.append((c1, r1, c1 + rng.randint(0, 3), r1 + rng.randint(0, 4)))
    expected = [list(row) for row in grid]
    fill_whole_grid(expected, ranges)
    fill = worker._MergedFill(ranges, max_columns=16_384)
    assert [list(fill.fill(number, tuple(row))) for number, row in enumerate(grid, start=1)] == expected


def test_the_classifier_option_fills_merged_ranges_in_the_child(tmp_path, quiet_tmp):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["内容", "分类"])
    for i, label in enumerate(["A", None, None, "B"]):
        sheet.append([f"小区垃圾{i}", label])
    sheet.merge_cells("B2:B4")
    book.save(tmp_path / "merged.xlsx")
    with open_xlsx(tmp_path / "merged.xlsx", field=None, fill_merged=True) as opened:
        assert [row[1] for row in opened] == ["分类", "A", "A", "A", "B"]


# --- the frames --------------------------------------------------------------------------------


def test_a_frame_may_name_no_class_but_datetimes():
    values = pickle.dumps(("rows", [(dt.datetime(2024, 1, 2), dt.date(2024, 1, 2), dt.timedelta(1), "x", 1)]))
    assert xlsx_child._CellUnpickler(io.BytesIO(values)).load()[1][0][2] == dt.timedelta(1)
    with pytest.raises(pickle.UnpicklingError):
        xlsx_child._CellUnpickler(io.BytesIO(pickle.dumps(("rows", [(Path("/etc"),)])))).load()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_frame_is_unpickled_from_the_buffer_itself(protocol):
    frame = ("rows", [("x" * 70_000, "地址\n", 1, 2.5, None, 10**20)] * 3)  # protocol 0 reads lines
    if protocol >= 3:  # datetimes are pickled through codecs before protocol 3
        frame[1].append((dt.datetime(2024, 1, 2), dt.date(2024, 1, 2)))
    buffer = bytearray(pickle.dumps(frame, protocol=protocol))
    with memoryview(buffer) as view:
        assert xlsx_child._CellUnpickler(xlsx_child._FrameReader(view)).load() == frame
    del buffer[:1]  # no view of the buffer left behind


# --- the caller's memory is bounded by the frames, not by the file ------------------------------


def decode_frames(data: bytes) -> list[tuple[int, tuple]]:
    """(length, frame) of each frame ``worker._send`` wrote."""
    frames, position, header = [], 0, worker.FRAME_HEADER.size
    while position < len(data):
        (length,) = worker.FRAME_HEADER.unpack_from(data, position)
        frames.append((length, pickle.loads(data[position + header : position + header + length])))
        position += header + length
    return frames


def test_the_child_splits_its_batches_at_a_few_mb_of_text(monkeypatch):
    monkeypatch.setattr(worker, "BATCH_BYTES", 100_000)
    rows = [("x" * 9_000, 1, "y" * 1_000) for _ in range(40)]  # 10 KB each: 10 rows a frame
    rows += [("地" * 10_000,)] * 8  # 30 KB of UTF-8 each, counted as 40 KB: 3 rows a frame
    rows += [("z" * 250_000, "a")]  # larger than a batch: sent with the rows before it
    out = io.BytesIO()
    worker._send(out, iter([("head", {}), *(("row", row) for row in rows), ("end", None)]))
    frames = decode_frames(out.getvalue())
    batches = [payload for _length, (kind, payload) in frames if kind == "rows"]
    assert [len(batch) for batch in batches] == [10, 10, 10, 10, 3, 3, 3]
    assert [row for batch in batches for row in batch] == rows
    lengths = [length for length, (kind, _payload) in frames if kind == "rows"]
    assert max(lengths[:-1]) < 100_000 + 40_000  # at most a batch and the row that passed it


def test_a_sheet_of_long_texts_reaches_the_caller_in_small_frames(tmp_path, quiet_tmp, monkeypatch):
    # A smaller review repro: 64 rows of 12 texts of 32,000 characters, 25 MB of text that the
    # child sent as one frame, held about three times over by the caller (75 MB).
    path = long_texts_workbook(tmp_path / "texts.xlsx", 64)
    sizes = []

    class Recording(xlsx_child._FrameReader):
        def __init__(self, data):
            sizes.append(len(data))
            super().__init__(data)

    monkeypatch.setattr(xlsx_child, "_FrameReader", Recording)
    tracemalloc.start()
    try:
        rows = 0
        with open_xlsx(path, field="file", guard=False) as sheet:
            for row in sheet:
                rows += 1
                assert len(row) == 12 and (rows == 1 or row[11] == "x" * 32_000)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == 65
    assert len(sizes) >= 2 + 6  # the head, six frames of rows at least, the end
    assert max(sizes) < worker.BATCH_BYTES + 12 * 32_100  # a batch and one row, at most
    assert peak < 16 << 20  # a frame and its rows, not the file


def test_a_frame_over_the_cap_is_refused_before_it_is_read(tmp_path, quiet_tmp, monkeypatch, caplog):
    monkeypatch.setattr(xlsx_child, "MAX_FRAME_BYTES", 1 << 20)  # below a batch of 4 MB of text
    path = long_texts_workbook(tmp_path / "texts.xlsx", 16)
    tracemalloc.start()
    try:
        with pytest.raises(ServiceError) as caught:
            with open_xlsx(path, field="upload", guard=False, memory_mb=SMALL_LIMIT_MB) as sheet:
                for _row in sheet:
                    pass
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (caught.value.code, caught.value.field) == ("file.xlsx_too_complex", "upload")
    assert caught.value.message == gettext(MEMORY_MESSAGE) % {"limit": SMALL_LIMIT_MB}
    assert "a frame of" in caplog.text
    assert peak < 3 << 20  # the frame was never read: at most one read of the pipe


# --- a child whose parent died exits ------------------------------------------------------------

ORPHANING_READER = """
import sys, time
from django.conf import settings
settings.configure(USE_I18N=False)
from zhiwang.core.xlsx_child import open_xlsx
sheet = open_xlsx(sys.argv[1], field=None, guard=False, memory_mb=1024, seconds=120)
print(sheet._frames.process.pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, its parent not reaping it, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_a_child_whose_parent_is_killed_exits(tmp_path, quiet_tmp):
    # The child reads the sheet's properties for about 5 s without a frame to write (a write
    # would fail, the pipe's reader gone): only the look at its parent ends it sooner.
    path = slow_sheet(tmp_path / "slow.xlsx")
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(ORPHANING_READER), str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
    )
    child = None
    try:
        child = int(parent.stdout.readline())
        time.sleep(0.1)
        assert alive(child)
        parent.send_signal(signal.SIGTERM)  # its default action: no finalizer runs
        assert parent.wait(timeout=10) == -signal.SIGTERM
        killed = time.monotonic()
        while alive(child) and time.monotonic() - killed < 10:
            time.sleep(0.05)
        assert not alive(child)
        assert time.monotonic() - killed < 2 * worker.PARENT_CHECK_SECONDS + 0.5
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)


# --- no cell content in the log -----------------------------------------------------------------

FAKE_ID = "110101199003078515"

FAILING_CHILD = f"""
import os, signal, sys
sys.stderr.write("a stray line that quotes a cell: {FAKE_ID}\\n")
try:
    raise ValueError("invalid literal for int() with base 10: '{FAKE_ID}'")
except ValueError:
    import traceback
    traceback.print_exc()
sys.stderr.flush()
if not os.environ.get("ZW_TEST_CHILD_KILLED"):
    sys.exit(1)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def failing_child(tmp_path, monkeypatch):
    """The child replaced by a script that fails with a cell's content in its standard error."""
    script = tmp_path / "failing_child.py"
    script.write_text(FAILING_CHILD)
    monkeypatch.setattr(xlsx_child, "WORKER_SCRIPT", script)


def test_a_failed_child_logs_its_exception_not_its_message(tmp_path, quiet_tmp, failing_child, caplog):
    path = normal_workbook(tmp_path / "people.xlsx")
    with caplog.at_level(logging.INFO, logger="zhiwang.core.xlsx_child"):
        with pytest.raises(RuntimeError) as caught:
            open_xlsx(path, field="file")
    assert "ValueError" in caplog.text and "exit 1" in caplog.text
    assert FAKE_ID not in caplog.text
    assert FAKE_ID not in str(caught.value) and "ValueError" in str(caught.value)


def test_a_killed_child_logs_no_cell_either(tmp_path, quiet_tmp, failing_child, caplog, monkeypatch):
    monkeypatch.setenv("ZW_TEST_CHILD_KILLED", "1")  # the child inherits the environment
    path = normal_workbook(tmp_path / "people.xlsx")
    with caplog.at_level(logging.INFO, logger="zhiwang.core.xlsx_child"):
        with pytest.raises(ServiceError) as caught:
            open_xlsx(path, field="file")
    assert caught.value.code == "file.xlsx_too_complex"  # SIGKILL: the kernel's OOM killer
    assert "ValueError" in caplog.text and FAKE_ID not in caplog.text


@pytest.mark.parametrize(
    ("stderr", "name"),
    [
        (b"", None),
        (b"a warning that quotes 110101199003078515\n", None),
        (b'Traceback (most recent call last):\n  File "w.py", line 1, in <module>\nKeyError\n', "KeyError"),
        (
            b'Traceback (most recent call last):\n  File "w.py", line 3\n    raise E(cell)\n'
            b"ValueError: bad 110101199003078515\n\nDuring handling of the above exception, another "
            b'exception occurred:\n\nTraceback (most recent call last):\n  File "zipfile.py", line 9\n'
            b"    ^^^^\nzipfile.BadZipFile: File is not a zip file: 110101199003078515\nmore text\n",
            "zipfile.BadZipFile",
        ),
        (b'Traceback (most recent call last):\n  File "w.py"\n110101199003078515 is no name\n', None),
    ],
)
def test_only_the_exception_class_is_taken_from_the_childs_output(stderr, name):
    assert xlsx_child._exception_name(stderr) == name


# --- a failed allocation of the XML parsers is the memory limit ---------------------------------


def chained(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception as exc:
            raise outer from exc
    except Exception as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "memory"),
    [
        (MemoryError(), True),
        (etree.XMLSyntaxError("unknown error", 2, 0, 0), True),  # what lxml raised at the limit
        (etree.XMLSyntaxError("Memory allocation failed : growing buffer", 1, 1, 1), True),
        (ParseError("out of memory: line 1, column 0"), False),  # no expat code: not told so
        (chained(ValueError("no workbook"), MemoryError()), True),
        (chained(KeyError("x"), etree.XMLSyntaxError("unknown error", 2, 0, 0)), True),
        (etree.XMLSyntaxError("StartTag: invalid element name", 68, 1, 2), False),
        (ParseError("not well-formed (invalid token): line 1, column 2"), False),
        (SyntaxError("invalid syntax"), False),
        (ValueError("Memory allocation failed"), False),  # a cell's text, not lxml's
    ],
)
def test_out_of_memory_tells_a_failed_allocation_from_a_damaged_file(exc, memory):
    assert worker.out_of_memory(exc) is memory


def test_expats_failed_allocation_is_out_of_memory():
    error = ParseError("out of memory: line 1, column 0")
    error.code = 1  # XML_ERROR_NO_MEMORY, as ElementTree sets it
    assert worker.out_of_memory(error)
    error.code = 4  # not well-formed
    assert not worker.out_of_memory(error)


def test_a_failed_allocation_in_openpyxl_is_no_unreadable_file(tmp_path, monkeypatch):
    import openpyxl as module

    def fail(*args, **kwargs):
        raise etree.XMLSyntaxError("unknown error", 2, 0, 0)

    monkeypatch.setattr(module, "load_workbook", fail)
    with pytest.raises(MemoryError):
        next(worker.produce(str(normal_workbook(tmp_path / "people.xlsx"))))


def test_lxmls_failed_allocation_in_the_child_is_the_memory_limit(tmp_path, quiet_tmp):
    path = parser_memory_bomb(tmp_path / "nodes.xlsx")
    with pytest.raises(ServiceError) as caught:
        open_xlsx(path, field="file", guard=False, memory_mb=SMALL_LIMIT_MB)
    assert caught.value.code == "file.xlsx_too_complex"
    assert caught.value.message == gettext(MEMORY_MESSAGE) % {"limit": SMALL_LIMIT_MB}
