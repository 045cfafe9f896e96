"""Models of the core app: the timestamp base, administrator notices, the work calendar.

``core`` is floor 0: nothing here imports another Zhiwang app. The work-calendar
models live in ``core.workcalendar.models`` (one module per idea) and are imported
here so Django registers them under the ``core`` label.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zhiwang.core.basemodels import TimeStampedModel
from zhiwang.core.workcalendar.models import (
    CalendarDay,
    CalendarSource,
    CalendarYear,
    DayKind,
    LimitUnit,
    WorkingWindow,
    WorkSchedule,
)

__all__ = [
    "AdminNotice",
    "CalendarDay",
    "CalendarSource",
    "CalendarYear",
    "DayKind",
    "LimitUnit",
    "NoticeLevel",
    "TimeStampedModel",
    "WorkSchedule",
    "WorkingWindow",
]


class NoticeLevel(models.TextChoices):
    INFO = "info", _("Information")  # worth knowing, nothing to do
    WARNING = "warning", _("Warning")  # results may be wrong until an administrator acts
    ERROR = "error", _("Error")  # something is broken and needs fixing now


#: Read-time texts of notices: key prefix -> ``render(notice) -> str`` (or "" to show ``message``).
#: An app registers its own in ``AppConfig.ready`` (``register_notice_renderer``): ``core``
#: knows no other app (floor 0).
NOTICE_RENDERERS: dict[str, Callable[[AdminNotice], str]] = {}


def register_notice_renderer(prefix: str, render: Callable[[AdminNotice], str]) -> None:
    """Put notices whose key starts with ``prefix`` in words when read, from their ``params``."""
    NOTICE_RENDERERS[prefix] = render


class AdminNotice(models.Model):
    """A deduplicated message for administrators, e.g. "the work calendar does not cover 2027".

    Any app raises one through ``core.services.admin_notice_raise(key=...)``; raising the
    same ``key`` again only bumps ``count`` and ``last_seen_at`` (and reopens it when it had
    been resolved), so a problem met a million times is still one line on the admin's
    screen. ``resolved_at`` is set when the cause is gone or an administrator dismisses it.

    ``message`` is the text as written (one language: the logs' and the Django admin's);
    a notice with ``params`` and a renderer registered for its key (``register_notice_renderer``)
    is shown as ``text``, put in words in the reader's language when read.
    """

    key = models.CharField(
        _("key"), max_length=128, unique=True, help_text=_("Stable identifier, e.g. calendar.uncovered.2027")
    )
    level = models.CharField(
        _("level"), max_length=16, choices=NoticeLevel.choices, default=NoticeLevel.WARNING
    )
    message = models.TextField(_("message"))
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    created_at = models.DateTimeField(_("first seen at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    count = models.PositiveIntegerField(_("times raised"), default=1)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("administrator notice")
        verbose_name_plural = _("administrator notices")
        # The table stays tiny (one row per distinct problem), so the banner query
        # "open notices, newest first" needs no index beyond the unique key.
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def text(self) -> str:
        """What people are shown: rendered now from ``params`` when the key has a renderer, else ``message``."""
        if self.params:
            for prefix, render in NOTICE_RENDERERS.items():
                if self.key.startswith(prefix):
                    rendered = render(self)
                    if rendered:
                        return str(rendered)
        return self.message
