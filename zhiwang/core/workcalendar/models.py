"""Tables of the work calendar. Imported by ``core/models.py``; app label ``core``.

Only the exceptions to "Monday to Friday are working days" are stored: a
``CalendarDay`` is either a weekday off (holiday) or a weekend day on (make-up
working day, 调休). ``CalendarYear`` says which years those exceptions are known
for; a computation reaching any other year falls back to Monday–Friday and warns.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.basemodels import TimeStampedModel


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday")  # 放假: no work although it may be Monday–Friday
    WORKDAY = "workday", _("Make-up working day")  # 调休上班: work although it may be a weekend


class CalendarSource(models.TextChoices):
    CHINESE_CALENDAR = "chinesecalendar", _("chinese-calendar package")  # seeded, re-seeding may update it
    ADMIN = "admin", _("Administrator")  # entered by hand; re-seeding never touches it


class LimitUnit(models.TextChoices):
    """How a time limit is counted; other apps use it in their deadline rules."""

    WORKING_HOURS = "working_hours", _("Working hours")  # through the working windows
    WORKING_DAYS = "working_days", _("Working days")  # from the next working day, to its end of work
    NATURAL_DAYS = "natural_days", _("Natural days")  # from the next day, to its midnight


class CalendarDay(TimeStampedModel):
    """One exception to the Monday–Friday rule: a holiday or a make-up working day.

    Seeded from the chinese-calendar package (only weekday holidays and weekend
    working days, since the rest agree with the rule) and completed by administrators
    from the State Council's yearly notice. A holiday row on a weekend is allowed and
    harmless.
    """

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=64, blank=True, help_text=_("e.g. 春节, 国庆节"))
    source = models.CharField(
        _("source"), max_length=16, choices=CalendarSource.choices, default=CalendarSource.ADMIN
    )

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.get_kind_display()} {self.name}".strip()


class CalendarYear(TimeStampedModel):
    """A year whose holidays and make-up days are known (``complete``).

    A year without a complete row is "uncovered": the engine counts it Monday–Friday,
    warns, and raises the administrator notice ``calendar.uncovered.<year>``.
    """

    year = models.PositiveSmallIntegerField(
        _("year"), unique=True, validators=[MinValueValidator(1949), MaxValueValidator(2100)]
    )
    source = models.CharField(
        _("source"), max_length=16, choices=CalendarSource.choices, default=CalendarSource.ADMIN
    )
    complete = models.BooleanField(
        _("complete"),
        default=False,
        help_text=_("Tick once every holiday and make-up working day of the year has been entered."),
    )

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)


class WorkSchedule(TimeStampedModel):
    """A named set of daily working windows; exactly one is the default used for deadlines."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        verbose_name = _("work schedule")
        verbose_name_plural = _("work schedules")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="core_workschedule_one_default",
            )
        ]

    def __str__(self) -> str:
        return self.name


class WorkingWindow(TimeStampedModel):
    """One period of work inside a working day, e.g. 09:00–12:00 (local time, same day)."""

    schedule = models.ForeignKey(
        WorkSchedule, verbose_name=_("schedule"), on_delete=models.CASCADE, related_name="windows"
    )
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))

    class Meta:
        verbose_name = _("working window")
        verbose_name_plural = _("working windows")
        ordering = ["schedule", "start"]
        constraints = [
            # Windows crossing midnight (night shifts) are not supported by the engine.
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end")), name="core_workingwindow_start_before_end"
            )
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        """Reject an empty window and one that overlaps another window of the same schedule."""
        if self.start is None or self.end is None:
            return
        if self.start >= self.end:
            raise ValidationError({"end": _("A working window must end after it starts, on the same day.")})
        if self.schedule_id is None:
            return
        overlapping = WorkingWindow.objects.filter(
            schedule_id=self.schedule_id, start__lt=self.end, end__gt=self.start
        ).exclude(pk=self.pk)
        if overlapping.exists():
            raise ValidationError(_("This window overlaps another window of the same schedule."))
