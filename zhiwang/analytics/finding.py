"""What a detector reports (``Finding``), shared by the detectors in ``alerts`` and ``surges``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings


@dataclass
class Finding:
    """What a detector saw; ``key`` identifies the series so repeated findings become one alert."""

    kind: str
    key: str
    explanation: str
    window_start: datetime
    window_end: datetime
    observed: int
    expected: float = 0.0
    spread: float = 0.0
    score: float = 0.0
    division_id: int | None = None
    grid_id: int | None = None
    category_id: int | None = None
    #: every ticket the finding counted (no cap: ``alert_raise`` stores them all, ``AlertTicket``)
    ticket_ids: list[int] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the platform's time zone."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(settings.TIME_ZONE))
