"""Rollups: wide daily counter tables kept in step with the timeline (docs/analytics.md §1).

Every ``TicketEvent`` is turned into metric deltas by one pure function (``event_deltas``) and
added, as ONE row per table, to the wide tables of ``models``: ``RollupFact`` (day × community ×
grid × category × channel × kind × unit), ``RollupArea`` (day × subdistrict × category × channel ×
kind), ``RollupUnit`` (day × subdistrict × unit), ``OpenStock`` (current open/overdue stock) and
``AddressDay`` (arrivals per address), each with an upsert ``INSERT … ON CONFLICT (key) DO UPDATE
SET col = col + excluded.col`` (the same SQL on PostgreSQL and SQLite). Three paths feed them:

- **incremental**: a ``post_save`` receiver on ``TicketEvent`` (``signals.py``) counts the new row
  inside the transaction of the transition that wrote it (``rollup_event_saved``). Before it, any
  earlier uncounted rows of the same ticket are counted first (rows a bulk path wrote), so each
  ticket's rows are always counted in timeline order. Inside a ``tickets.timeline_batch`` (the
  submit pipeline) the rows are only noted and counted together when the batch ends, right
  before the commit (``rollup_batch_flush``): one multi-row upsert per table — on PostgreSQL one
  statement for all tables and the tracks — so the shared counter rows are locked only for the
  last moments of the transaction, and a failed transaction leaves nothing.
- **catch-up**: bulk paths (the clock sweep's warnings/urges, ``tickets.history.bulk_tickets_create``)
  use ``bulk_create`` and send no signal. ``rollup_catch_up`` (periodic task, every minute) scans
  rows above a watermark (minus a look-back, for rows committed late) and counts those the
  ticket's ``TicketTrack.last_event`` has not reached.
- **rebuild**: ``rollup_rebuild`` (command ``analytics_rebuild``) empties the tables and counts the
  whole timeline again with set-based SQL (``INSERT … SELECT … GROUP BY`` over the timeline joined
  to the tickets; the overdue episodes with window functions); the coarse tables are then
  ``GROUP BY``s of the fine one. A test proves it equals the incremental result.

Counting is idempotent per row (``TicketTrack.last_event``), so the three paths may overlap.

The code lives in modules by subject: ``rules`` (``event_deltas``, pure), ``writes`` (the
upserts), ``incremental`` (the receiver and the batch flush), ``catch_up`` and ``rebuild``;
import it from here.
"""

from zhiwang.analytics.rollups.catch_up import CATCH_UP_LOOKBACK, rollup_catch_up
from zhiwang.analytics.rollups.incremental import BATCH_BUFFER, rollup_batch_flush, rollup_event_saved
from zhiwang.analytics.rollups.rebuild import (
    DERIVED,
    REBUILT,
    rollup_derive,
    rollup_rebuild,
    rollup_snapshot,
    rollup_vacuum,
)
from zhiwang.analytics.rollups.rules import (
    CITY_NODE,
    FINAL_ACTIONS,
    METRICS,
    OVERDUE_ENDS,
    SIMPLE,
    TicketFacts,
    event_deltas,
    local_day,
)
from zhiwang.analytics.rollups.writes import Deltas, upsert

__all__ = [
    "BATCH_BUFFER",
    "CATCH_UP_LOOKBACK",
    "CITY_NODE",
    "DERIVED",
    "FINAL_ACTIONS",
    "METRICS",
    "OVERDUE_ENDS",
    "REBUILT",
    "SIMPLE",
    "Deltas",
    "TicketFacts",
    "event_deltas",
    "local_day",
    "rollup_batch_flush",
    "rollup_catch_up",
    "rollup_derive",
    "rollup_event_saved",
    "rollup_rebuild",
    "rollup_snapshot",
    "rollup_vacuum",
    "upsert",
]
