"""The transition kit: one table of legal transitions and an append-only timeline.

An app declares its workflow once, next to its status choices::

    TICKET_WORKFLOW = Workflow(
        {
            (TicketStatus.RECEIVED, TicketAction.DISPATCH): TicketStatus.DISPATCHED,
            (TicketStatus.DISPATCHED, TicketAction.ACCEPT): TicketStatus.ACCEPTED,
        },
        states=TicketStatus,
        actions=TicketAction,
        permissions={TicketAction.DISPATCH: lambda actor, ticket: actor.is_dispatcher},
    )

    class TicketEvent(TimelineEntry):
        ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="events")

and its services call ``TICKET_WORKFLOW.apply(ticket, "dispatch", actor=user,
timeline_model=TicketEvent)``: lock the row, check the caller saw the current state
(optimistic concurrency), check the table, permission and guard, change the state and
append one timeline row, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zhiwang.core.errors import Conflict, NotFound, PermissionDeniedError, ServiceError

Permission = Callable[[Any, models.Model], bool]  # (actor, obj) -> allowed?
Guard = Callable[..., bool | None]  # (obj, *, actor, payload) -> False, or raise ServiceError, to refuse


class AppendOnlyError(RuntimeError):
    """Somebody tried to change or delete history; a programming error, never a user's."""


class TimelineQuerySet(models.QuerySet):
    """Refuses the bulk writes that would edit or erase history."""

    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: update() is not allowed")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: delete() is not allowed")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: bulk_update() is not allowed")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: use create()")


class TimelineEntry(models.Model):
    """One state change of a record: who, when, which action, from which state to which, why.

    Abstract: each app adds a ``ForeignKey(<its model>, on_delete=PROTECT)`` (a system
    check enforces PROTECT on every foreign key, so history is never cascaded away).
    Rows are appended and never edited: ``save()`` of a stored row, ``delete()`` and the
    queryset's ``update()`` / ``delete()`` raise ``AppendOnlyError``. Indicators are
    queries over these rows, so any weighting can be recomputed later.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=gettext_lazy("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="%(app_label)s_%(class)s_entries",
        help_text=gettext_lazy("Empty for the system (deadline tasks, imports)."),
    )
    at = models.DateTimeField(gettext_lazy("at"), default=timezone.now, db_index=True)
    action = models.CharField(gettext_lazy("action"), max_length=32)
    from_state = models.CharField(gettext_lazy("from state"), max_length=32)
    to_state = models.CharField(gettext_lazy("to state"), max_length=32)
    note = models.TextField(gettext_lazy("note"), blank=True)
    payload = models.JSONField(gettext_lazy("payload"), default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = TimelineQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["at", "pk"]
        get_latest_by = "at"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}: {self.from_state} → {self.to_state}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(
                f"{type(self).__name__} rows are append-only: a stored row cannot be saved again"
            )
        # force_insert: a row built with the pk of an existing one must fail, not overwrite it.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only: they cannot be deleted")

    @classmethod
    def check(cls, **kwargs):
        errors = super().check(**kwargs)
        for field in cls._meta.concrete_fields:
            if field.many_to_one and field.remote_field.on_delete not in (models.PROTECT, models.RESTRICT):
                errors.append(
                    checks.Error(
                        f"{cls.__name__}.{field.name} must use on_delete=PROTECT: timeline rows are never deleted.",
                        obj=cls,
                        id="core.E001",
                    )
                )
        return errors


class Workflow:
    """A transition table ``{(from_state, action): to_state}`` with optional permissions and guards.

    ``states`` / ``actions`` (``TextChoices`` classes) give the words used in error
    messages and let the constructor reject a table with an unknown value.
    ``permissions[action](actor, obj)`` returns whether the actor may do it;
    ``guards[action](obj, actor=..., payload=...)`` may raise ``ServiceError`` with its own
    message, or return False to refuse with a generic one.
    """

    def __init__(
        self,
        transitions: Mapping[tuple[str, str], str],
        *,
        states: type[models.TextChoices] | None = None,
        actions: type[models.TextChoices] | None = None,
        permissions: Mapping[str, Permission] | None = None,
        guards: Mapping[str, Guard] | None = None,
    ):
        self.transitions = {(str(s), str(a)): str(t) for (s, a), t in transitions.items()}
        self.states = states
        self.actions = actions
        self.permissions = {str(a): f for a, f in (permissions or {}).items()}
        self.guards = {str(a): f for a, f in (guards or {}).items()}
        known_actions = {a for _s, a in self.transitions}
        for action in [*self.permissions, *self.guards]:
            if action not in known_actions:
                raise ValueError(f"permission or guard for {action!r}, which no transition uses")
        if states is not None:
            used = {s for s, _a in self.transitions} | set(self.transitions.values())
            if unknown := used - set(states.values):
                raise ValueError(f"states not in {states.__name__}: {sorted(unknown)}")
        if actions is not None and (unknown := known_actions - set(actions.values)):
            raise ValueError(f"actions not in {actions.__name__}: {sorted(unknown)}")

    def target(self, state: str, action: str) -> str | None:
        """The state ``action`` leads to from ``state``, or None when it is not allowed."""
        return self.transitions.get((str(state), str(action)))

    def allowed_actions(self, state: str, *, actor=None, obj: models.Model | None = None) -> list[str]:
        """Actions allowed from ``state``, in declaration order; with ``actor`` and ``obj``, only permitted ones."""
        result = []
        for (source, action), _target in self.transitions.items():
            if source != str(state):
                continue
            permission = self.permissions.get(action)
            if (
                actor is not None
                and obj is not None
                and permission is not None
                and not permission(actor, obj)
            ):
                continue
            result.append(action)
        return result

    def apply(
        self,
        obj: models.Model,
        action: str,
        *,
        actor,
        timeline_model: type[TimelineEntry],
        note: str = "",
        payload: dict | None = None,
        state_field: str = "status",
        update_fields: Iterable[str] = (),
        timeline_fields: Mapping[str, Any] | None = None,
    ) -> TimelineEntry:
        """Move ``obj`` through ``action`` and append its timeline row; returns that row.

        ``obj``'s state as the caller holds it is the state the caller decided on: when the
        database holds another one, somebody acted first and ``Conflict`` is raised. Other
        fields the caller changed on ``obj`` are saved too when named in ``update_fields``.
        Raises ``ServiceError`` ``workflow.illegal_transition`` / ``workflow.guard_failed``,
        ``PermissionDeniedError`` ``workflow.permission_denied``, ``Conflict``
        ``workflow.conflict``, ``NotFound`` ``workflow.not_found``.
        """
        if obj.pk is None:
            raise ValueError("Workflow.apply needs a saved object")
        action = str(action)
        seen = str(getattr(obj, state_field))
        subject_field = _subject_field(timeline_model, obj)
        with transaction.atomic():
            # Row lock on PostgreSQL; on SQLite the IMMEDIATE transaction (settings) already
            # holds the database write lock, and select_for_update is ignored there.
            current = list(
                type(obj)
                ._base_manager.select_for_update()
                .filter(pk=obj.pk)
                .values_list(state_field, flat=True)
            )
            if not current:
                raise NotFound("workflow.not_found", _("The record no longer exists."))
            if str(current[0]) != seen:
                raise Conflict(
                    "workflow.conflict",
                    _("Somebody changed this record first: it is now “%(state)s”, not “%(seen)s”. Reload it.")
                    % {"state": self._state_label(current[0]), "seen": self._state_label(seen)},
                )
            target = self.target(seen, action)
            if target is None:
                raise ServiceError(
                    "workflow.illegal_transition",
                    _("The action “%(action)s” is not allowed in the state “%(state)s”.")
                    % {"action": self._action_label(action), "state": self._state_label(seen)},
                )
            self.require_permission(action, actor=actor, obj=obj)
            guard = self.guards.get(action)
            if guard is not None and guard(obj, actor=actor, payload=payload) is False:
                raise ServiceError(
                    "workflow.guard_failed",
                    _("The action “%(action)s” is not possible now.")
                    % {"action": self._action_label(action)},
                )
            setattr(obj, state_field, target)
            fields = {state_field, *update_fields}
            if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
                fields.add("updated_at")
            obj.save(update_fields=sorted(fields))
            return timeline_model.objects.create(
                **{subject_field: obj},
                actor=actor if getattr(actor, "pk", None) is not None else None,
                action=action,
                from_state=seen,
                to_state=target,
                note=note,
                payload=payload or {},
                **(timeline_fields or {}),
            )

    def require_permission(self, action: str, *, actor, obj: models.Model) -> None:
        """``PermissionDeniedError`` ``workflow.permission_denied`` unless ``actor`` may do ``action``
        on ``obj`` (whatever its state). ``apply`` checks it too; a service calls it first when its
        own checks (e.g. "a request is already pending") would otherwise answer somebody who may
        not act at all, and tell them more than they may know."""
        permission = self.permissions.get(action)
        if permission is not None and not permission(actor, obj):
            raise PermissionDeniedError(
                "workflow.permission_denied",
                _("You may not do “%(action)s” here.") % {"action": self._action_label(action)},
            )

    def _state_label(self, value) -> str:
        return _label(self.states, value)

    def _action_label(self, value) -> str:
        return _label(self.actions, value)


def _label(choices: type[models.TextChoices] | None, value) -> str:
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    return str(value)


def _subject_field(timeline_model: type[TimelineEntry], obj: models.Model) -> str:
    """The foreign key of ``timeline_model`` that points at ``obj``'s model (``timeline_subject_field`` wins)."""
    named = getattr(timeline_model, "timeline_subject_field", None)
    if named:
        return named
    concrete = obj._meta.concrete_model
    candidates = [
        f.name
        for f in timeline_model._meta.concrete_fields
        if f.many_to_one and f.name != "actor" and f.related_model._meta.concrete_model is concrete
    ]
    if len(candidates) != 1:
        raise TypeError(
            f"{timeline_model.__name__} needs exactly one foreign key to {concrete.__name__} "
            f"(found {candidates}); set timeline_subject_field"
        )
    return candidates[0]
