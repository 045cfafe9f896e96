"""The routing configuration, cached per process: rules, units and default time limits.

Every submission needs the routing rules, the handling units (for a rule's unit, the
division offices and the command centers), the kinds' default time limits, the category
tree and the division tree (without boundaries). They
change a few times a year and are a few hundred rows, so each process keeps one
read-only snapshot (``routing_config()``) instead of asking the database ten times
per ticket.

How a change is seen:

- in the process that made it, at once: saving or deleting a rule, a unit, a
  category or a default limit through the ORM (the admin, the services) drops the
  snapshot (signals), and until that transaction is over the snapshot is checked on
  every call, so a rolled-back edit is forgotten too;
- in every other process within ``ZHIWANG_TICKETS_CACHE_CHECK_SECONDS`` (default 5):
  the same signals bump ``ConfigVersion('routing')``, and a process compares that
  version and the tables' row counts and highest ids (one query) at most that often;
- bulk writes (``bulk_create``, ``QuerySet.update``) send no signal: code that
  changes these tables in bulk calls ``routing_config_changed()`` (row counts still
  catch bulk inserts and deletes, e.g. a flushed test database).

Treat the snapshot's model instances as read-only: they are shared by every thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_migrate, post_save

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Category, ConfigVersion, KindDeadline, RoutingRule

ROUTING = "routing"
#: Whose changes invalidate the snapshot (Category: rule explanations name categories).
WATCHED = (RoutingRule, OrgUnit, KindDeadline, Category)


@dataclass(frozen=True)
class RoutingConfig:
    """One consistent read of the routing tables."""

    fingerprint: tuple
    #: Active rules by category id (None: rules for any category), with unit, division and category loaded.
    rules: dict[int | None, list[RoutingRule]] = field(default_factory=dict)
    #: Every unit by id (inactive ones too: a rule may name one).
    units: dict[int, OrgUnit] = field(default_factory=dict)
    #: Active division offices and command centers per division id, by code.
    offices: dict[int, list[OrgUnit]] = field(default_factory=dict)
    #: Active command centers per division id, by code.
    centers: dict[int, list[OrgUnit]] = field(default_factory=dict)
    #: The first active command center of the city (by code), the fallback dispatch center.
    city_center: OrgUnit | None = None
    #: (kind, urgency) → (amount, unit) from ``KindDeadline``.
    kind_deadlines: dict[tuple[str, str], tuple[Decimal, str]] = field(default_factory=dict)
    #: Every category by id, each with its parent (the same objects) attached.
    categories: dict[int, Category] = field(default_factory=dict)
    #: Every division by id (boundaries left out), each with its parent attached.
    divisions: dict[int, Division] = field(default_factory=dict)

    def category(self, pk: int) -> Category:
        """The category ``pk`` with its ancestors (from the database if it is newer than the snapshot)."""
        found = self.categories.get(pk)
        if found is None:
            found = Category.objects.select_related("parent__parent__parent").get(pk=pk)
        return found

    def division(self, pk: int | None) -> Division | None:
        """The division ``pk`` with its ancestors (from the database if it is newer than the snapshot)."""
        if pk is None:
            return None
        found = self.divisions.get(pk)
        if found is None:
            found = Division.objects.select_related("parent__parent__parent").filter(pk=pk).first()
        return found


_lock = threading.Lock()
_state: dict = {"config": None, "checked_at": float("-inf"), "dirty": False}


def _fingerprint() -> tuple:
    """The version row and each watched table's row count and highest id, in one round trip."""
    qn = connection.ops.quote_name
    parts = [f"(SELECT version FROM {qn(ConfigVersion._meta.db_table)} WHERE {qn('key')} = %s)"]
    for model in WATCHED:
        table = qn(model._meta.db_table)
        parts.append(f"(SELECT COUNT(*) FROM {table})")
        parts.append(f"(SELECT MAX(id) FROM {table})")
    # Divisions are not watched by signals (imports write thousands): their last change is.
    table = qn(Division._meta.db_table)
    parts.append(f"(SELECT COUNT(*) FROM {table})")
    parts.append(f"(SELECT MAX({qn('updated_at')}) FROM {table})")
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), [ROUTING])
        return tuple(cursor.fetchone())


def _build(fingerprint: tuple) -> RoutingConfig:
    units = {u.pk: u for u in OrgUnit.objects.order_by("code")}
    offices: dict[int, list[OrgUnit]] = {}
    centers: dict[int, list[OrgUnit]] = {}
    city_center = None
    city_ids = set(
        OrgUnit.objects.filter(
            kind=OrgUnitKind.COMMAND_CENTER, is_active=True, division__level="city"
        ).values_list("pk", flat=True)
    )
    for unit in units.values():  # by code
        if not unit.is_active or unit.division_id is None:
            continue
        if unit.kind in (OrgUnitKind.DIVISION_OFFICE, OrgUnitKind.COMMAND_CENTER):
            offices.setdefault(unit.division_id, []).append(unit)
        if unit.kind == OrgUnitKind.COMMAND_CENTER:
            centers.setdefault(unit.division_id, []).append(unit)
            if city_center is None and unit.pk in city_ids:
                city_center = unit
    rules: dict[int | None, list[RoutingRule]] = {}
    for rule in RoutingRule.objects.filter(is_active=True).select_related("division", "category"):
        if rule.unit_id in units:
            rule.unit = units[rule.unit_id]
        rules.setdefault(rule.category_id, []).append(rule)
    kind_deadlines = {
        (kind, urgency): (amount, unit)
        for kind, urgency, amount, unit in KindDeadline.objects.values_list(
            "kind", "urgency", "amount", "unit"
        )
    }
    categories = {c.pk: c for c in Category.objects.order_by()}
    for category in categories.values():
        category.parent = categories.get(category.parent_id) if category.parent_id else None
    divisions = {d.pk: d for d in Division.objects.defer("geometry").order_by()}
    for division in divisions.values():
        division.parent = divisions.get(division.parent_id) if division.parent_id else None
    return RoutingConfig(
        fingerprint=fingerprint,
        categories=categories,
        divisions=divisions,
        rules=rules,
        units=units,
        offices=offices,
        centers=centers,
        city_center=city_center,
        kind_deadlines=kind_deadlines,
    )


def routing_config() -> RoutingConfig:
    """The current snapshot (reloaded when the tables changed; see the module docstring)."""
    config = _state["config"]
    now = time.monotonic()
    interval = getattr(settings, "ZHIWANG_TICKETS_CACHE_CHECK_SECONDS", 5)
    if config is not None and not _state["dirty"] and now - _state["checked_at"] < interval:
        return config
    fingerprint = _fingerprint()
    with _lock:
        config = _state["config"]
        if config is None or config.fingerprint != fingerprint:
            config = _build(fingerprint)
            _state["config"] = config
        _state["checked_at"] = now
        if _state["dirty"] and not connection.in_atomic_block:
            # Whatever this thread changed is committed or rolled back by now, and the
            # fingerprint just read is of committed data.
            _state["dirty"] = False
    return config


def routing_config_reset() -> None:
    """Forget the snapshot in this process (the next call reloads)."""
    with _lock:
        _state["config"] = None
        _state["checked_at"] = float("-inf")


def routing_config_changed() -> None:
    """Tell every process the routing tables changed (call after bulk writes to them)."""
    updated = ConfigVersion.objects.filter(key=ROUTING).update(version=F("version") + 1)
    if not updated:
        ConfigVersion.objects.get_or_create(key=ROUTING, defaults={"version": 1})
    with _lock:
        _state["config"] = None
        _state["dirty"] = True
    transaction.on_commit(routing_config_reset)


def _watched_row_changed(sender, raw=False, **kwargs):
    routing_config_changed()


def _schema_or_data_reset(sender, **kwargs):
    # ``migrate`` and ``flush`` (transactional tests) rewrite tables without row signals.
    routing_config_reset()


def connect_signals() -> None:
    for model in WATCHED:
        uid = f"tickets_routing_config_{model._meta.label_lower}"
        post_save.connect(_watched_row_changed, sender=model, dispatch_uid=f"{uid}_save")
        post_delete.connect(_watched_row_changed, sender=model, dispatch_uid=f"{uid}_delete")
    post_migrate.connect(_schema_or_data_reset, dispatch_uid="tickets_routing_config_migrate")
