"""Accounts API: who am I, and my own API tokens."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.functional import SimpleLazyObject
from ninja import Field, Router, Schema, Status
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from zhiwang.accounts import selectors, services
from zhiwang.accounts.models import ApiToken
from zhiwang.core.errors import FieldError, ServiceError


class TokenAuth(HttpBearer):
    """``Authorization: Bearer zw_…`` (per user or per integration client)."""

    def authenticate(self, request, token):
        found = services.api_token_resolve(key=token)
        if found is None:
            # A token that was sent and is unknown, revoked or expired is the answer: 401. Falling
            # through to the session made every POST of such a client a puzzling 403 ``auth.csrf``.
            raise AuthenticationError
        request.user = found.user
        # the token the caller came with (``token_create`` caps by it), read only if asked
        request.api_token = SimpleLazyObject(lambda: found.token)
        return found.user


router = Router(tags=["accounts"])


class DivisionRef(Schema):
    code: str
    name: str
    level: str


class MeOut(Schema):
    username: str
    full_name: str
    role: str
    role_label: str
    org_unit: str | None
    jurisdictions: list[DivisionRef]
    grids: list[str]


@router.get("/me", response=MeOut, summary="The signed-in user, role and jurisdiction")
def me(request):
    user = request.user
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "role_label": str(user.get_role_display()),
        "org_unit": user.org_unit.name if user.org_unit_id else None,
        "jurisdictions": [
            {"code": d.code, "name": d.name, "level": d.level} for d in user.jurisdictions.order_by("code")
        ],
        "grids": list(user.grid_assignments.values_list("grid__code", flat=True).order_by("grid__code")),
    }


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=services.TOKEN_NAME_MAX_LENGTH)
    #: With an offset, in the future, at most in 2100; called with an expiring bearer token: not
    #: after that token's expiry (omitted: the token's expiry).
    expires_at: datetime | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    key: str


def _validation_failed(error: ValidationError) -> ServiceError:
    """400 ``validation_failed`` with each field's own stable code (``field.too_small``, …: the
    services name them; one they do not name is ``field.invalid``), not Django's bare "invalid"."""
    fields = [
        FieldError(field=name, code=item.code or "field.invalid", message=message)
        for name, items in error.error_dict.items()
        for item in items
        for message in item.messages
    ]
    return ServiceError("validation_failed", fields[0].message, field=fields[0].field, fields=fields)


@router.get("/tokens", response=list[TokenOut], summary="My API tokens")
def tokens(request):
    return selectors.api_token_list(user=request.user)


@router.post("/tokens", response={201: TokenCreatedOut}, summary="Issue a token (the key is shown once)")
def token_create(request, payload: TokenIn):
    """Not for integration clients (403: their tokens come from an administrator or the CLI).
    A rule broken is 400 ``validation_failed``, each field error with its code (``expires_at``
    in the past: ``field.too_small``; after 2100 or after the calling token's expiry:
    ``field.too_large``; without an offset: ``field.bad_format``; a blank name: ``field.required``)."""
    try:
        issued = services.api_token_create_own(
            user=request.user,
            name=payload.name,
            expires_at=payload.expires_at,
            parent=getattr(request, "api_token", None),
        )
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        raise _validation_failed(error) from None
    token = issued.token
    return Status(201, {**TokenOut.from_orm(token).dict(), "key": issued.key})


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke one of my tokens")
def token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.api_token_revoke(token=token)
    return Status(204, None)
