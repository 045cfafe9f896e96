"""Errors that services raise and every entry point turns into a clear answer.

An error has a stable machine ``code`` (for API clients, never translated), a
human ``message`` (translated: Chinese first) and optionally the ``field`` it is
about. The API renders it as::

    {"error": {"code": "geo.outside_city", "message": "坐标不在本市范围内", "field": "lon",
               "fields": [{"field": "lon", "code": "...", "message": "..."}]}}
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    code: str
    message: str


class ServiceError(Exception):
    """A rule was broken; nothing was written. ``status`` is the HTTP status to answer with."""

    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        fields: list[FieldError] | None = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.field = field
        self.fields = list(fields or [])
        if field and not self.fields:
            self.fields = [FieldError(field=field, code=code, message=self.message)]
        if status is not None:
            self.status = status

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "fields": [{"field": f.field, "code": f.code, "message": f.message} for f in self.fields],
        }


class NotFound(ServiceError):
    status = 404


class PermissionDeniedError(ServiceError):
    status = 403


class Conflict(ServiceError):
    """Somebody changed the record first (optimistic or row-lock check lost)."""

    status = 409


@dataclass
class ErrorList:
    """Collects field errors to raise them together."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, code: str, message: str) -> None:
        self.errors.append(FieldError(field=field_name, code=code, message=str(message)))

    def raise_if_any(self, code: str = "validation_failed", message: str = "") -> None:
        if self.errors:
            first = self.errors[0]
            raise ServiceError(code, message or first.message, field=first.field, fields=self.errors)
