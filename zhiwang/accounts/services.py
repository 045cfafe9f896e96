"""Every write of the accounts app: users, jurisdiction, grid assignments, tokens, logins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
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
from zhiwang.core.client_address import client_ip as core_client_ip
from zhiwang.geo.models import Division, Grid

TOKEN_PREFIX = "zw_"
#: The latest expiry a token may have (a later date is a typo, or a way round expiry).
TOKEN_MAX_EXPIRY_YEAR = 2100
TOKEN_NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


# --- Login throttling -------------------------------------------------------


def client_ip(request) -> str | None:
    """The client's IP behind ``ZHIWANG_NUM_PROXIES`` trusted proxies (None when unknown)."""
    return core_client_ip(request)


def login_is_locked(*, username: str, now: datetime | None = None, before: int | None = None) -> bool:
    """True while ``username`` has too many recent failures (since its last success).

    ``before``: count only the attempts recorded before that one (an attempt is recorded as a
    failure before its password is checked, so guesses sent in parallel see one another).
    """
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
    if before is not None:
        failures = failures.filter(pk__lt=before)
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


def _field_error(field: str, message: str, code: str) -> ValidationError:
    """A field error with the API's stable code (``field.…``, docs/api.md), which the tokens API
    answers (``accounts.api``); the command line shows the message."""
    return ValidationError({field: ValidationError(message, code=code)})


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once, never stored


def api_token_expiry_check(expires_at: datetime | None) -> datetime | None:
    """An expiry fit to store: aware and at most in ``TOKEN_MAX_EXPIRY_YEAR``; field errors on ``expires_at``.

    A far date in a negative offset (``9999-12-31T23:59:59-10:00``) is past the last datetime
    in UTC: that is an error here too, not an OverflowError when it is stored.
    """
    if expires_at is None:
        return None
    if timezone.is_naive(expires_at):
        raise _field_error(
            "expires_at",
            _("Give the expiry with a time zone offset (for example +08:00)."),
            "field.bad_format",
        )
    try:
        in_utc = expires_at.astimezone(UTC)
    except (OverflowError, ValueError):
        in_utc = None
    if in_utc is None or max(in_utc.year, expires_at.year) > TOKEN_MAX_EXPIRY_YEAR:
        raise _field_error(
            "expires_at",
            _("A token expires in %(year)s at the latest.") % {"year": TOKEN_MAX_EXPIRY_YEAR},
            "field.too_large",
        )
    return expires_at


@transaction.atomic
def api_token_create(
    *, user: User, name: str, client: IntegrationClient | None = None, expires_at: datetime | None = None
) -> IssuedToken:
    """Issue a bearer token; the plain key is returned once and only its hash is kept.

    A token of an integration client's service user should name the client (``client``), so it
    is refused the moment the client is deactivated (``api_token_authenticate`` also checks the
    service user's client, for tokens issued without it).
    """
    if not user.is_active:
        raise _field_error("user", _("An inactive user cannot hold API tokens."), "field.invalid")
    if not (name or "").strip() or len(name) > TOKEN_NAME_MAX_LENGTH:
        raise _field_error(
            "name",
            _("Name the token in 1 to %(max)s characters.") % {"max": TOKEN_NAME_MAX_LENGTH},
            "field.too_long" if (name or "").strip() else "field.required",
        )
    expires_at = api_token_expiry_check(expires_at)
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, client=client, name=name, prefix=key[:10], key_hash=hash_token(key), expires_at=expires_at
    )
    return IssuedToken(token=token, key=key)


def api_token_create_own(
    *, user: User, name: str, expires_at: datetime | None = None, parent: ApiToken | None = None
) -> IssuedToken:
    """A token a signed-in user issues to themselves (``POST /accounts/tokens``).

    - An integration client's service user may not: its tokens come from an administrator or
      ``zhiwang api-token create --client`` (403), so every one of them dies with the client.
    - ``expires_at`` must lie in the future (besides ``api_token_expiry_check``).
    - Called with a bearer token that expires (``parent``), the new token never outlives it:
      without ``expires_at`` it gets the parent's expiry, a later one is a field error.
    """
    if user.role == Role.INTEGRATION:
        raise PermissionDenied("integration clients get their tokens from an administrator")
    expires_at = api_token_expiry_check(expires_at)
    if expires_at is not None and expires_at <= timezone.now():
        raise _field_error("expires_at", _("The expiry must lie in the future."), "field.too_small")
    if parent is not None and parent.expires_at is not None:
        if expires_at is None:
            expires_at = parent.expires_at
        elif expires_at > parent.expires_at:
            raise _field_error(
                "expires_at",
                _("A token issued with an expiring token cannot outlive it (it expires at %(at)s).")
                % {"at": parent.expires_at.isoformat()},
                "field.too_large",
            )
    return api_token_create(user=user, name=name, expires_at=expires_at)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@dataclass
class ResolvedToken:
    """A bearer key that checked out: its user (loaded with the check), the token row on demand."""

    user: User
    token_id: int

    @cached_property
    def token(self) -> ApiToken:
        """The token row (its expiry caps the tokens issued with it); one query, when asked."""
        return ApiToken.objects.get(pk=self.token_id)


@cache
def _token_lookup_sql() -> str:
    """The look-up of ``api_token_resolve``, written once per process from the models' tables.

    Every check is in SQL (revoked, expired, user inactive, its client or the client its user
    serves inactive), so the rows that come back are usable, and the user arrives whole
    (``User.objects.raw`` converts its columns as the ORM does). Why not the ORM's
    ``select_related`` over the same joins: it compiled the query anew on every request, about
    40 % of the CPU of a queued submission (docs/benchmarks.md, "production web profile").
    """
    from django.db import connection

    qn = connection.ops.quote_name
    user, token, client = (qn(m._meta.db_table) for m in (User, ApiToken, IntegrationClient))
    return (
        f"SELECT u.*, t.id AS zw_token_id, "
        f"CASE WHEN t.last_used_at IS NULL OR t.last_used_at < %s THEN 1 ELSE 0 END AS zw_token_touch "
        f"FROM {token} t JOIN {user} u ON u.id = t.user_id "
        f"LEFT JOIN {client} c ON c.id = t.client_id "
        f"LEFT JOIN {client} ic ON ic.service_user_id = u.id "
        f"WHERE t.key_hash = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > %s) "
        f"AND u.is_active AND (c.id IS NULL OR c.is_active) AND (ic.id IS NULL OR ic.is_active)"
    )


def api_token_resolve(*, key: str) -> ResolvedToken | None:
    """The usable token behind a bearer key (its user active, its client active), or None.

    One query: the token, its user, its client and the client the user serves (a token a
    service user issued itself before that was refused names no client, and still dies with it).
    Records the last use (at most once a minute).
    """
    if not key or not key.startswith(TOKEN_PREFIX):
        return None
    from django.db import connection

    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value  # raw SQL: the value as the backend stores it
    found = list(
        User.objects.raw(
            _token_lookup_sql(), [adapt(now - timedelta(minutes=1)), hash_token(key), adapt(now)]
        )
    )
    if not found:
        return None
    user = found[0]
    if user.zw_token_touch:
        ApiToken.objects.filter(pk=user.zw_token_id).update(last_used_at=now)
    return ResolvedToken(user=user, token_id=user.zw_token_id)


def api_token_authenticate(*, key: str) -> User | None:
    """The active user behind a bearer key, or None (``api_token_resolve``)."""
    token = api_token_resolve(key=key)
    return token.user if token is not None else None


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
