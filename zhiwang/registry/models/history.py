"""Provenance and history: each department's statement about a record, the change history, the access log.

The change history and the access log are appended, never edited.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.workflow import TimelineEntry
from zhiwang.registry.models.base import RecordKind
from zhiwang.registry.models.entities import LegalEntity
from zhiwang.registry.models.people import Person


class PersonSource(models.Model):
    """One department's statement about a person: kept for every department that supplied it (merge)."""

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="sources"
    )
    source = models.ForeignKey(OrgUnit, verbose_name=_("source department"), on_delete=models.PROTECT)
    import_batch = models.ForeignKey(
        "registry.ImportBatch", verbose_name=_("import batch"), null=True, on_delete=models.PROTECT
    )
    last_confirmed_at = models.DateTimeField(_("last confirmed at"), default=timezone.now)

    class Meta:
        verbose_name = _("person source")
        verbose_name_plural = _("person sources")
        constraints = [
            models.UniqueConstraint(fields=["person", "source"], name="registry_person_source_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source} · {self.last_confirmed_at:%Y-%m-%d}"


class EntitySource(models.Model):
    """One department's statement about a legal entity (merge with provenance kept)."""

    entity = models.ForeignKey(
        LegalEntity, verbose_name=_("legal entity"), on_delete=models.CASCADE, related_name="sources"
    )
    source = models.ForeignKey(OrgUnit, verbose_name=_("source department"), on_delete=models.PROTECT)
    import_batch = models.ForeignKey(
        "registry.ImportBatch", verbose_name=_("import batch"), null=True, on_delete=models.PROTECT
    )
    last_confirmed_at = models.DateTimeField(_("last confirmed at"), default=timezone.now)

    class Meta:
        verbose_name = _("entity source")
        verbose_name_plural = _("entity sources")
        constraints = [
            models.UniqueConstraint(fields=["entity", "source"], name="registry_entity_source_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source} · {self.last_confirmed_at:%Y-%m-%d}"


class RecordChange(TimelineEntry):
    """Append-only change history of every registry record (created, imported, merged, corrected).

    ``payload["changes"]`` is ``{field: [old, new]}``; ID numbers and phones appear masked.
    """

    record_kind = models.CharField(_("record kind"), max_length=16, choices=RecordKind.choices)
    record_id = models.BigIntegerField(_("record id"))
    source = models.ForeignKey(
        OrgUnit,
        verbose_name=_("source department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    import_batch = models.ForeignKey(
        "registry.ImportBatch",
        verbose_name=_("import batch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta(TimelineEntry.Meta):
        verbose_name = _("record change")
        verbose_name_plural = _("record changes")
        indexes = [models.Index(fields=["record_kind", "record_id", "at"], name="registry_change_record")]


class AccessLog(TimelineEntry):
    """A full (unmasked) view of personal data: who, whom, when, why. Append-only."""

    # ``TimelineEntry.actor`` without its own single-column index: ``registry_access_actor_recent``
    # (actor, action, at) starts with the actor and serves every lookup by actor alone too (a user's
    # rows, the PROTECT check when a user is deleted); a second index only slowed every write to a
    # log that grows with every reveal (dropped by migration 0012).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="%(app_label)s_%(class)s_entries",
        help_text=_("Empty for the system (deadline tasks, imports)."),
        db_index=False,
    )
    record_kind = models.CharField(_("record kind"), max_length=16, choices=RecordKind.choices)
    record_id = models.BigIntegerField(_("record id"))

    class Meta(TimelineEntry.Meta):
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        indexes = [
            models.Index(fields=["record_kind", "record_id", "at"], name="registry_access_record"),
            # The hourly limits (``services.audit.identifier_searches_recent``): one user's rows of
            # some actions within the last hour, read on every identifier search and every
            # registration of an unseen number, in a log that grows with every reveal.
            models.Index(fields=["actor", "action", "at"], name="registry_access_actor_recent"),
        ]
