"""The work calendar: Chinese public holidays, make-up working days and working hours.

- ``models``   the tables an administrator edits (days, covered years, schedules)
- ``engine``   ``WorkCalendar``, pure Python date arithmetic over those tables
- ``services`` the cached per-process calendar, ``due()``, seeding and coverage notices
- ``seeding``  the chinese-calendar import shared by the data migration and the command

Import the engine from here; import models and services from their modules
(this package is imported while Django loads models, so it must not import them).
"""

from zhiwang.core.workcalendar.engine import CalendarCoverageWarning, WorkCalendar

__all__ = ["CalendarCoverageWarning", "WorkCalendar"]
