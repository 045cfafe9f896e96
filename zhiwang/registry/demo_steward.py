"""The demo data steward's work: merge conflicts and registrations to check (``registry.demo``).

A fresh demo city otherwise showed the steward "合并冲突 0" and "待核登记 0": the two queues of
**City registry → Merge conflicts to decide** were empty, so nothing of that work could be shown.
``demo_registry_create(steward_work=True)`` leaves a handful of each, made the way they arise in
real use, through the real services:

- **Merge conflicts**: a second department (``MERGE_SOURCE``, the civil affairs bureau) sends a
  small file naming some of the demo's people. Most rows agree with the police's record (the
  import confirms them); a few write the name with another character of the same sound (张伟 /
  张玮), which the import keeps and reports as a ``merge.conflict`` (``imports.chunk.Chunk.merge``).
  The file goes the way a steward's does: ``import_batch_create`` (validate only) →
  ``import_batch_run`` → ``import_batch_publish`` → ``import_batch_run``, run here in this process
  (never queued: the same with the default in-process task setting and ``ZHIWANG_TASKS=immediate``).
  The file gives the ID number and the name only, so no row changes a record: the batch is named by
  no history row and the rebuild can delete it (``demo_steward_work_clear``).
- **Registrations to check**: the demo grid worker registers (``services.person_register``, as
  ``POST /registry/people`` does) people whose ID numbers are on record in another community or
  grid, at a room of their own grid, so each registration waits for the steward
  (``RegistrationReview``).

Deterministic for a seed (the people are picked by ID number with a seeded generator; the demo's
ID numbers and names are the seed's). Idempotent with the demo's rebuild: the people it names are
replaced by every run (their reviews go with them, ``on_delete=CASCADE``), and the demo's own import
batches (with their report lines and conflicts) are deleted before a run makes them again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import random
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from zhiwang.accounts.models import OrgUnit, User
from zhiwang.geo.models import AddressLevel, Division, StandardAddress
from zhiwang.registry.imports import pipeline
from zhiwang.registry.models import (
    ImportBatch,
    ImportChunk,
    ImportIssue,
    ImportStatus,
    Person,
    RecordKind,
    RegistrationReview,
)
from zhiwang.registry.services import RegistrationReferred, in_scope, person_register

logger = logging.getLogger(__name__)

#: The second department whose file disagrees with the police's names (a demo unit, see ``demo._sources``).
MERGE_SOURCE = ("DEMO-REG-CIVIL", "深圳市民政局")
#: Who imports and decides (``accounts.demo``); without them (a registry built on its own) nothing is made.
STEWARD = "demo_steward"
GRID_WORKER = "demo_grid_worker"
#: How many people the second department's file names, and how many of them it names otherwise.
FILE_ROWS = 10
CONFLICTS = 4
#: How many people the grid worker registers who are on record elsewhere.
REVIEWS = 2
FILE_NAME = "民政局高龄津贴名册（演示）.csv"
#: The file's header (the civil affairs bureau's own words; ``columns`` maps them).
COLUMNS = {"公民身份号码": "id_number", "姓名": "name"}
#: Another character of the same sound, as a clerk typing a name heard may write it.
HOMOPHONES = {
    "伟": "玮",
    "芳": "方",
    "静": "婧",
    "丽": "莉",
    "明": "铭",
    "军": "君",
    "勇": "永",
    "杰": "洁",
    "涛": "韬",
    "霞": "侠",
    "平": "萍",
    "华": "桦",
    "玉": "钰",
    "红": "虹",
    "文": "雯",
    "辉": "晖",
    "宇": "羽",
    "浩": "皓",
    "欣": "昕",
    "怡": "仪",
    "晨": "辰",
    "嘉": "佳",
    "佳": "嘉",
    "婷": "亭",
    "鹏": "朋",
    "燕": "艳",
    "艳": "燕",
    "梅": "玫",
    "东": "冬",
    "新": "欣",
    "娜": "纳",
    "敏": "珉",
    "强": "蔷",
    "磊": "蕾",
    "洋": "阳",
    "娟": "鹃",
    "超": "朝",
    "秀": "琇",
    "刚": "钢",
    "桂": "贵",
    "英": "瑛",
    "兰": "岚",
    "萍": "平",
    "建": "健",
    "然": "冉",
    "子": "梓",
    "梓": "子",
    "轩": "萱",
    "涵": "晗",
    "雨": "语",
    "思": "斯",
    "诗": "师",
    "俊": "骏",
    "志": "智",
    "春": "椿",
    "晓": "筱",
    "立": "力",
    "国": "帼",
    "海": "凯",
}
#: Adults only: a registration's move date lies after their current residence began (see ``_register``).
ADULT_YEARS = 18
#: How many people of a community are looked at (by ID number) when picking: enough, and cheap at any scale.
CANDIDATES = 60


@dataclass
class StewardWork:
    conflicts: int = 0
    reviews: int = 0


def _variant(name: str, rng: random.Random) -> str:
    """The name with one given-name character replaced by another of the same sound."""
    positions = [i for i in range(1, len(name)) if name[i] in HOMOPHONES]
    if positions:
        i = rng.choice(positions)
        return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]
    return name[:-1] + rng.choice([c for c in "玮婧莉铭洁晖" if c != name[-1]])


def _adults(community: Division, person_source: OrgUnit, today: date, exclude: set[int]) -> list[Person]:
    """The first ``CANDIDATES`` adults the demo placed in ``community``, by ID number (deterministic)."""
    born_before = today - timedelta(days=ADULT_YEARS * 366)
    return list(
        Person.objects.filter(
            community=community, source=person_source, birth_date__lte=born_before, grid__isnull=False
        )
        .exclude(pk__in=exclude)
        .order_by("id_number")[:CANDIDATES]
    )


def demo_steward_work_clear() -> int:
    """Delete the demo's own import batches (``MERGE_SOURCE``'s) with their report lines and merge
    conflicts, and their stored files no other batch keeps. Run after the people they name are
    deleted (a person keeps its last import batch, ``on_delete=PROTECT``). Answers how many went.

    A batch some history row still names (a change it made: never, with the demo's file) is kept,
    its report lines emptied, so no conflict is left naming a person who is gone."""
    deleted = 0
    for batch in ImportBatch.objects.filter(source__code=MERGE_SOURCE[0]).order_by("pk"):
        path = batch.file_path
        try:
            with transaction.atomic():
                ImportBatch.objects.filter(pk=batch.pk).delete()  # chunks and issues cascade
        except ProtectedError:
            logger.warning(
                "demo import batch #%s is named by history rows; its report lines are emptied", batch.pk
            )
            ImportIssue.objects.filter(batch=batch).delete()
            ImportChunk.objects.filter(batch=batch).delete()
            continue
        deleted += 1
        if path and not ImportBatch.objects.filter(file_path=path).exists():
            # once the deletion is committed (a rolled-back rebuild keeps the batch and its file)
            transaction.on_commit(lambda path=path: Path(path).unlink(missing_ok=True))
    return deleted


def _import_file(rows: list[tuple[str, str]], *, source: OrgUnit, steward: User) -> ImportBatch:
    """Import ``rows`` (ID number, name) as the steward would: validate, publish, run."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(list(COLUMNS))
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "civil.csv"
        path.write_text(text.getvalue(), encoding="utf-8")
        batch = pipeline.import_batch_create(
            actor=steward,
            kind=RecordKind.PERSON,
            source=source,
            file_path=path,
            file_name=FILE_NAME,
            columns=COLUMNS,
            validate_only=True,
        )
    if batch.validate_only and batch.status != ImportStatus.VALIDATED:
        batch = pipeline.import_batch_run(batch=batch)
    if batch.validate_only and batch.status == ImportStatus.VALIDATED:
        batch = pipeline.import_batch_publish(batch=batch, actor=steward)
    if batch.status != ImportStatus.DONE:
        batch = pipeline.import_batch_run(batch=batch)
    return batch


def _register(
    person: Person, *, worker: User, room: StandardAddress, since: date, phone: str
) -> RegistrationReview | None:
    """The grid worker registers ``person``'s ID number at ``room``; the review it leaves, or None."""
    data = {
        "id_number": person.id_number,
        "name": person.name,
        "address": room.code,
        "since": since.isoformat(),
        "phone": phone,
    }
    try:
        person_register(actor=worker, source=worker.org_unit, data=data, note="入户走访登记")
    except RegistrationReferred as referred:
        return referred.review
    return None  # the number was inside the worker's area after all: nothing for the steward


def demo_steward_work_create(
    *,
    seed: int,
    communities: list[Division],
    person_source: OrgUnit,
    merge_source: OrgUnit,
) -> StewardWork:
    """Leave the demo steward merge conflicts and registrations to check (see the module's docstring).

    Picks among the people the demo placed in ``communities`` (the police's, ``person_source``):
    the file's people in the grid worker's community when it is among them (else the first), the
    registered ones elsewhere (another community, else another grid of it). Needs the demo
    accounts: without the steward or the grid worker that part is skipped."""
    work = StewardWork()
    steward = User.objects.filter(username=STEWARD, is_active=True).first()
    worker = User.objects.filter(username=GRID_WORKER, is_active=True).select_related("org_unit").first()
    if not communities or (steward is None and worker is None):
        return work
    rng = random.Random(
        int.from_bytes(hashlib.sha256(f"{seed}:registry:steward".encode()).digest()[:8], "big")
    )
    today = timezone.localdate()
    home_ids = set(worker.scope.grid_community_ids) if worker is not None else set()
    ordered = sorted(communities, key=lambda c: (c.pk not in home_ids, c.code))
    taken: set[int] = set()

    if steward is not None:
        people: list[Person] = []
        for community in ordered:  # the grid worker's first; a small demo may need a few more
            people += _adults(community, person_source, today, taken)
            if len(people) >= CANDIDATES:
                break
        chosen = rng.sample(people, min(FILE_ROWS, len(people)))
        chosen.sort(key=lambda p: p.id_number)
        differing = {p.pk for p in rng.sample(chosen, min(CONFLICTS, len(chosen)))}
        rows = [(p.id_number, _variant(p.name, rng) if p.pk in differing else p.name) for p in chosen]
        taken |= {p.pk for p in chosen}
        if rows:
            batch = _import_file(rows, source=merge_source, steward=steward)
            work.conflicts = ImportIssue.objects.filter(
                batch=batch, code="merge.conflict", record_id__isnull=False
            ).count()

    if worker is not None and worker.scope.grid_ids:
        rooms = list(
            StandardAddress.objects.filter(
                grid_id__in=worker.scope.grid_ids, level=AddressLevel.ROOM
            ).order_by("code")[:50]
        )
        elsewhere: list[Person] = []
        # other communities first (the common case: somebody moved in from across the city)
        for community in sorted(communities, key=lambda c: (c.pk in home_ids, c.code)):
            elsewhere += [
                p for p in _adults(community, person_source, today, taken) if not in_scope(worker, p)
            ]
            if len(elsewhere) >= REVIEWS:
                break
        for person in rng.sample(elsewhere, min(REVIEWS, len(elsewhere))) if rooms else []:
            review = _register(
                person,
                worker=worker,
                room=rng.choice(rooms),
                # after their current residence began (the demo's began 30 days ago or earlier)
                since=today - timedelta(days=rng.randrange(3, 20)),
                phone=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            )
            work.reviews += review is not None
    return work
