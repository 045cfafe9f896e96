"""Every write of the accounts app: users, jurisdiction, grid assignments, tokens, logins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import (
    ApiToken,
    GridAssignment,
    GridDuty,
    IntegrationClient,
    LoginAttempt,
    OrgUnit,
    Role,
    User,
    hash_token,
)
from zhiwang.geo.models import Division, Grid

TOKEN_PREFIX = "zw_"


# --- Login throttling -------------------------------------------------------


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def login_is_locked(*, username: str, now: datetime | None = None) -> bool:
    """True while ``username`` has too many recent failures (since its last success)."""
    now = now or timezone.now()
    window_start = now - timedelta(minutes=settings.ZHIWANG_LOGIN_LOCK_MINUTES)
    last_success = (
        LoginAttempt.objects.filter(username=username, succeeded=True, at__gte=window_start)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    failures = LoginAttempt.objects.filter(
        username=username, succeeded=False, at__gte=last_success or window_start
    )
    return failures.count() >= settings.ZHIWANG_LOGIN_MAX_FAILURES


def login_attempt_record(*, username: str, ip: str | None, succeeded: bool) -> LoginAttempt:
    """Append one attempt; the lock is derived from these rows, never stored."""
    return LoginAttempt.objects.create(username=username[:150], ip=ip, succeeded=succeeded)


# --- Users and jurisdiction ---------------------------------------------------


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    role: str,
    full_name: str = "",
    phone: str = "",
    org_unit: OrgUnit | None = None,
    jurisdictions: list[Division] | tuple[Division, ...] = (),
    is_staff: bool = False,
) -> User:
    """Create a user with a role and jurisdiction (division subtree roots)."""
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role: %(role)s") % {"role": role}})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": _("The username %(username)s is taken.") % {"username": username}})
    user = User(
        username=username,
        role=role,
        full_name=full_name,
        phone=phone,
        org_unit=org_unit,
        is_staff=is_staff or role == Role.ADMINISTRATOR,
        is_superuser=role == Role.ADMINISTRATOR,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    if jurisdictions:
        user.jurisdictions.set(jurisdictions)
    return user


@transaction.atomic
def user_set_jurisdictions(*, user: User, divisions: list[Division]) -> User:
    user.jurisdictions.set(divisions)
    user.__dict__.pop("scope", None)
    return user


@transaction.atomic
def grid_assign(*, grid: Grid, user: User, duty: str = GridDuty.GRID_WORKER) -> GridAssignment:
    """Make ``user`` a member of ``grid`` in ``duty`` (idempotent)."""
    if duty not in GridDuty.values:
        raise ValidationError({"duty": _("Unknown grid duty: %(duty)s") % {"duty": duty}})
    assignment, _created = GridAssignment.objects.get_or_create(grid=grid, user=user, duty=duty)
    user.__dict__.pop("scope", None)
    return assignment


# --- API tokens -------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once, never stored


@transaction.atomic
def api_token_create(
    *, user: User, name: str, client: IntegrationClient | None = None, expires_at: datetime | None = None
) -> IssuedToken:
    """Issue a bearer token; the plain key is returned once and only its hash is kept."""
    if not user.is_active:
        raise ValidationError({"user": _("An inactive user cannot hold API tokens.")})
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, client=client, name=name, prefix=key[:10], key_hash=hash_token(key), expires_at=expires_at
    )
    return IssuedToken(token=token, key=key)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(*, key: str) -> User | None:
    """The active user behind a bearer key, or None. Records the last use (at most once a minute)."""
    if not key or not key.startswith(TOKEN_PREFIX):
        return None
    # A slice, not .first(): the key hash is unique, and first() would order by pk for nothing.
    found = list(ApiToken.objects.select_related("user", "client").filter(key_hash=hash_token(key))[:1])
    token = found[0] if found else None
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    if token.client is not None and not token.client.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def integration_client_create(
    *,
    name: str,
    org_unit: OrgUnit | None = None,
    jurisdictions: list[Division] | tuple[Division, ...] = (),
    contact: str = "",
) -> IntegrationClient:
    """Register another system; it gets a service user (no password) whose scope its tokens carry."""
    if IntegrationClient.objects.filter(name=name).exists():
        raise ValidationError({"name": _("An integration client named %(name)s exists.") % {"name": name}})
    username = "client-" + secrets.token_hex(6)
    service_user = user_create(
        username=username,
        password=None,
        role=Role.INTEGRATION,
        full_name=name,
        org_unit=org_unit,
        jurisdictions=jurisdictions,
    )
    return IntegrationClient.objects.create(
        name=name, org_unit=org_unit, service_user=service_user, contact=contact
    )
