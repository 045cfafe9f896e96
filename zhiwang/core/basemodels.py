"""Abstract base models shared by every app.

They live outside ``core/models.py`` so that modules which ``core/models.py``
itself imports (the work-calendar models) can use them without a circular import;
``zhiwang.core.models`` re-exports them, and that is the path other apps use.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    """Adds ``created_at`` and ``updated_at``, both set by Django on save.

    ``updated_at`` is also what caches compare to notice a change (see
    ``core.workcalendar.services``), so bulk ``update()`` calls on such tables must
    set it explicitly.
    """

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True
