"""A real ``kill -9`` in the middle of a SQLite commit group: the committed chunks are whole, the
open group is gone whole, and the resumed import ends as one that never died.

The import runs in a child process on its own SQLite file (the test database is not visible
to another process); the child kills itself with SIGKILL while chunk 4 is being written and
chunk 3 waits, written but not committed, in the same group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.servers import migrated_sqlite_copy

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
import os, sys, json, signal
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "zhiwang.settings"
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from zhiwang.accounts.models import OrgUnit
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import EligibilityRule, ImportBatch, ImportChunk, MappingTemplate, Person
settings.ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS = 6  # two chunks of three rows per commit
"""

FIRST = """
call_command("migrate", verbosity=0, interactive=False)  # nothing left to apply on the migrated copy
from zhiwang.registry.defaults import seed_defaults
seed_defaults(MappingTemplate=MappingTemplate, EligibilityRule=EligibilityRule)
source = OrgUnit.objects.create(code="KILL9-SRC", name="公安", kind="department")
batch = pipeline.import_batch_create(
    actor=None, kind="person", source=source, file_path={path!r},
    template=MappingTemplate.objects.get(name="公安实有人口"), chunk_size=3,
)
real, calls = pipeline._people, [0]
def dying(chunk):
    calls[0] += 1
    real(chunk)
    if calls[0] == 4:  # chunk 4 written, chunk 3 written: neither committed
        os.kill(os.getpid(), signal.SIGKILL)
pipeline._people = dying
pipeline.import_batch_run(batch=batch)
"""

SECOND = """
batch = ImportBatch.objects.get()
before = {
    "chunks": sorted(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True)),
    "people": Person.objects.count(),
    "rows_read": batch.rows_read,
}
batch = pipeline.import_batch_run(batch=batch)
print(json.dumps({
    "before": before,
    "status": batch.status,
    "counters": [batch.rows_read, batch.rows_created, batch.rows_rejected],
    "people": Person.objects.count(),
    "rows": sorted(Person.objects.values_list("import_row", flat=True)),
    "chunks": sorted(ImportChunk.objects.filter(batch=batch).values_list("number", flat=True)),
}))
"""


def _child(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        ZHIWANG_DATA_DIR=str(tmp_path),
        ZHIWANG_DATABASE_URL=f"sqlite:///{tmp_path / 'kill9.sqlite3'}",
        ZHIWANG_REGISTRY_IMPORT_DIR=str(tmp_path / "imports"),
        ZHIWANG_TASKS="immediate",
        ZHIWANG_LOG_LEVEL="WARNING",
    )
    script = textwrap.dedent(SETUP.format(root=str(ROOT))) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_kill_9_inside_a_commit_group_loses_it_whole_and_resume_finishes(tmp_path):
    from datetime import date

    from zhiwang.registry.demo import make_id_number

    ids = [make_id_number("440305", date(1955 + i, 6, 1 + i), 500 + i, male=i % 2 == 0) for i in range(10)]
    path = tmp_path / "people.csv"
    path.write_text(
        "\n".join(["姓名,公民身份号码"] + [f"人{i},{ids[i]}" for i in range(10)] + [f"重,{ids[2]}"]),
        encoding="utf-8",
    )
    migrated_sqlite_copy(tmp_path / "kill9.sqlite3")  # a new database, migrated once per test run
    # When the import is killed (SIGKILL, no cleanup) while chunk 4 is written
    died = _child(FIRST.format(path=str(path)), tmp_path)
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    # Then, in a new process: chunks 1–2 (the first group) are there whole, chunk 3 not at all,
    # and the resumed import ends as one that never died
    resumed = _child(SECOND, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    outcome = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert outcome["before"] == {"chunks": [1, 2], "people": 6, "rows_read": 6}
    assert outcome["status"] == "done"
    assert outcome["counters"] == [11, 10, 1]
    assert outcome["people"] == 10 and outcome["rows"] == list(range(2, 12))
    assert outcome["chunks"] == [1, 2, 3, 4]
