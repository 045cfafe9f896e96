"""Every write of the accounts app: users, jurisdiction, grid assignments, tokens, logins."""

from __future__ import annotations

import logging
import math
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
from zhiwang.core import throttle
from zhiwang.core.client_address import client_ip as core_client_ip
from zhiwang.core.client_address import rate_limit_key
from zhiwang.geo.models import Division, Grid

log = logging.getLogger(__name__)

TOKEN_PREFIX = "zw_"
#: The latest expiry a token may have (a later date is a typo, or a way round expiry).
TOKEN_MAX_EXPIRY_YEAR = 2100
TOKEN_NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


# --- Login throttling -------------------------------------------------------
#
# Three limits, all over the last ``ZHIWANG_LOGIN_LOCK_MINUTES`` (``login_limits``):
#
# - per client address, whatever the usernames (``ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES``): a
#   counter in the cache (``core.throttle``), read before anything else, so a sprayer trying
#   one password on many usernames is refused without a password hashed or a row written;
# - per username and address (``ZHIWANG_LOGIN_MAX_FAILURES``), from the ``LoginAttempt`` rows:
#   guessing one account's password from one place stops there;
# - per username from all addresses (``ZHIWANG_LOGIN_USERNAME_MAX_FAILURES``, higher): guessing
#   one account from many addresses stops too.
#
# The trade-off is the last one. It is what stops a guesser with many addresses, and it locks
# the account for its owner as well, from everywhere; from one address a stranger can no
# longer do that (the pair's lock stops them at ``ZHIWANG_LOGIN_MAX_FAILURES``), they need
# ``USERNAME_MAX_FAILURES / MAX_FAILURES`` addresses (4 by default) per window. A lower
# username limit locks accounts more easily; a higher one gives a guesser with many
# addresses more guesses.
#
# "Address" in the first two is the network a client holds (``core.client_address.rate_limit_key``:
# an IPv6 client's /64, in which it may pick any address), not the address it picked: otherwise
# one client with a /64 would spray without end, and, by moving to a fresh address every
# ``ZHIWANG_LOGIN_MAX_FAILURES`` tries, lock any username from everywhere on its own. The rows
# and the logs keep the full address.


@dataclass(frozen=True)
class LoginLimits:
    per_address_and_username: int
    per_username: int
    per_address: int
    window_minutes: int
    keep_days: int


def login_limits() -> LoginLimits:
    """The limits in force, read from the settings at each sign-in (so tests may change them)."""
    per_pair = settings.ZHIWANG_LOGIN_MAX_FAILURES
    return LoginLimits(
        per_address_and_username=per_pair,
        # never below the pair's limit: a username is never locked everywhere before it is here
        per_username=max(per_pair, getattr(settings, "ZHIWANG_LOGIN_USERNAME_MAX_FAILURES", 20)),
        per_address=getattr(settings, "ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES", 20),
        window_minutes=settings.ZHIWANG_LOGIN_LOCK_MINUTES,
        keep_days=max(1, getattr(settings, "ZHIWANG_LOGIN_KEEP_DAYS", 30)),
    )


def client_ip(request) -> str | None:
    """The client's IP behind ``ZHIWANG_NUM_PROXIES`` trusted proxies (None when unknown)."""
    return core_client_ip(request)


_ADDRESS_COUNTER = "login-address"


def login_address_admit(*, address: str) -> bool:
    """Count a sign-in from ``address`` as failed until it succeeds; False when the address is
    over its limit (``per_address``), and the sign-in is to be refused unchecked.

    Counted before the password is checked, in one atomic step, so guesses sent in parallel
    count one another. The window is fixed: it starts with the address's first failure, and
    refused sign-ins do not lengthen it.
    """
    limits = login_limits()
    count = throttle.failure_record(_ADDRESS_COUNTER, rate_limit_key(address), limits.window_minutes * 60)
    if count == limits.per_address + 1:  # once per window: operators see a spray, or a shared address
        log.warning(
            "sign-ins from %s refused for up to %s minutes: %s failures",
            address,
            limits.window_minutes,
            count - 1,
        )
    return count <= limits.per_address


def login_address_forgive(*, address: str) -> None:
    """Take back the failure ``login_address_admit`` counted: the sign-in succeeded."""
    throttle.failure_forget(_ADDRESS_COUNTER, rate_limit_key(address))


def login_address_wait(*, address: str) -> int:
    """Seconds until the address's window ends (at least 1): how long its refusal lasts."""
    window = login_limits().window_minutes * 60
    return throttle.window_left(_ADDRESS_COUNTER, rate_limit_key(address), window)


def _window_start(now: datetime | None) -> datetime:
    return (now or timezone.now()) - timedelta(minutes=login_limits().window_minutes)


def _of_address(attempts, ip: str | None):
    """The attempts from the network of ``ip`` (``rate_limit_key``): the IPv4 address, however
    the column holds it, or every address of the IPv6 /64."""
    if ip is None:
        return attempts.filter(ip__isnull=True)
    key = rate_limit_key(ip)
    if "/" not in key:  # IPv4: as itself, or mapped into IPv6 (as a dual-stack socket shows it)
        return attempts.filter(ip__in=[key, f"::ffff:{key}"])
    # A /64 the column cannot be asked about on every database (PostgreSQL's inet could, with
    # ``<<=``; SQLite holds the compressed text, of which the /64 is no text prefix). The
    # attempts passed in are one username's in the window: few, sorted here.
    same = [
        pk for pk, other in attempts.values_list("pk", "ip") if other and rate_limit_key(str(other)) == key
    ]
    return attempts.filter(pk__in=same)


def _username_failures(username: str, now: datetime | None, before: int | None):
    """The failures of ``username`` from every address in the window (``before``: see below)."""
    failures = LoginAttempt.objects.filter(
        username=username[:150], succeeded=False, at__gte=_window_start(now)
    )
    return failures.filter(pk__lt=before) if before is not None else failures


def _pair_failures(username: str, ip: str | None, now: datetime | None, before: int | None):
    """The failures of ``username`` from ``ip`` in the window, since the last success from there."""
    window_start = _window_start(now)
    attempts = _of_address(LoginAttempt.objects.filter(username=username[:150], at__gte=window_start), ip)
    last_success = attempts.filter(succeeded=True).order_by("-at").values_list("at", flat=True).first()
    failures = attempts.filter(succeeded=False, at__gte=last_success or window_start)
    return failures.filter(pk__lt=before) if before is not None else failures


def _lock_end(failures, limit: int) -> datetime | None:
    """When a lock of ``limit`` failures ends: as the ``limit``-th latest one leaves the window
    (then fewer than ``limit`` are left in it); None when there are fewer, and no lock."""
    nth_latest = next(iter(failures.order_by("-at").values_list("at", flat=True)[limit - 1 : limit]), None)
    if nth_latest is None:
        return None
    return nth_latest + timedelta(minutes=login_limits().window_minutes)


def login_is_locked(*, username: str, now: datetime | None = None, before: int | None = None) -> bool:
    """True while ``username`` is locked from every address: ``per_username`` failures in the window.

    A success does not reset this count (it would give a guesser with many addresses a fresh
    allowance each time the owner signs in); an owner who mistypes now and then never nears it.
    ``before``: count only the attempts recorded before that one (an attempt is recorded as a
    failure before its password is checked, so guesses sent in parallel see one another).
    """
    return _username_failures(username, now, before).count() >= login_limits().per_username


def login_is_locked_from(
    *, username: str, ip: str | None, now: datetime | None = None, before: int | None = None
) -> bool:
    """True while ``username`` is locked for the address ``ip`` (its /64 for IPv6, ``_of_address``):
    ``per_address_and_username`` failures from there in the window, since the last success from there (``before``: as above).
    """
    return _pair_failures(username, ip, now, before).count() >= login_limits().per_address_and_username


@dataclass(frozen=True)
class LoginLock:
    """A lock in force on a username: where it holds, and until when (the sign-in page says both)."""

    everywhere: bool  # from every address (``per_username``); else from this address only
    until: datetime

    def seconds_left(self, now: datetime | None = None) -> int:
        """At least 1: a lock read a moment before it ends still refused this sign-in."""
        return max(1, math.ceil((self.until - (now or timezone.now())).total_seconds()))


def login_lock(
    *, username: str, ip: str | None, now: datetime | None = None, before: int | None = None
) -> LoginLock | None:
    """The lock on ``username`` from ``ip``, or None: the one that ends later when both hold
    (the sign-in is refused until then), the one from every address on a tie (it says more).

    Read only to word a refusal or a warning: the refusals themselves stay on the counts
    (``login_is_locked_from``, ``login_is_locked``). Unknown usernames have attempts like any
    other, so they lock alike and the page never tells whether an account exists.
    """
    limits = login_limits()
    locks = []
    everywhere = _lock_end(_username_failures(username, now, before), limits.per_username)
    if everywhere is not None:
        locks.append(LoginLock(everywhere=True, until=everywhere))
    here = _lock_end(_pair_failures(username, ip, now, before), limits.per_address_and_username)
    if here is not None:
        locks.append(LoginLock(everywhere=False, until=here))
    return max(locks, key=lambda lock: (lock.until, lock.everywhere), default=None)


def login_failures_left_from(*, username: str, ip: str | None, now: datetime | None = None) -> int:
    """How many more failures of ``username`` from ``ip`` lock it there (0: it is locked)."""
    limit = login_limits().per_address_and_username
    return max(0, limit - _pair_failures(username, ip, now, None).count())


def login_attempt_record(*, username: str, ip: str | None, succeeded: bool) -> LoginAttempt:
    """Append one attempt; the locks are derived from these rows, never stored."""
    return LoginAttempt.objects.create(username=username[:150], ip=ip, succeeded=succeeded)


def login_attempts_purge(*, now: datetime | None = None) -> int:
    """Delete the attempts older than ``ZHIWANG_LOGIN_KEEP_DAYS`` (default 30): the locks read
    only the last minutes, and the rest is a short audit trail, not a history kept forever
    (a sprayer would otherwise grow the table without end). The number deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=login_limits().keep_days)
    deleted, _by_model = LoginAttempt.objects.filter(at__lt=cutoff).delete()
    return deleted


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
    *,
    user: User,
    name: str,
    client: IntegrationClient | None = None,
    expires_at: datetime | None = None,
    parent: ApiToken | None = None,
) -> IssuedToken:
    """Issue a bearer token; the plain key is returned once and only its hash is kept.

    A token of an integration client's service user should name the client (``client``), so it
    is refused the moment the client is deactivated (``api_token_authenticate`` also checks the
    service user's client, for tokens issued without it).

    ``parent``: the token the new one is issued with; it dies with it (``api_token_revoke``).
    Its row is locked and checked first: a revocation running at the same moment either comes
    first (refused here, 403) or waits and then finds the new token.
    """
    if parent is not None and not (
        ApiToken.objects.select_for_update().filter(pk=parent.pk, revoked_at__isnull=True).exists()
    ):
        raise PermissionDenied("the calling token was revoked")
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
        user=user,
        client=client,
        parent=parent,
        name=name,
        prefix=key[:10],
        key_hash=hash_token(key),
        expires_at=expires_at,
    )
    return IssuedToken(token=token, key=key)


def api_token_create_own(
    *, user: User, name: str, expires_at: datetime | None = None, parent: ApiToken | None = None
) -> IssuedToken:
    """A token a signed-in user issues to themselves (``POST /accounts/tokens``).

    - An integration client's service user may not: its tokens come from an administrator or
      ``zhiwang api-token create --client`` (403), so every one of them dies with the client.
    - ``expires_at`` must lie in the future (besides ``api_token_expiry_check``).
    - Called with a bearer token (``parent``), the new token never outlives it: it is revoked
      with it (``api_token_revoke``), and when the parent expires, without ``expires_at`` it gets
      the parent's expiry, a later one is a field error.
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
    return api_token_create(user=user, name=name, expires_at=expires_at, parent=parent)


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke ``token`` and every token issued with it, at any depth (``ApiToken.parent``).

    Whoever held the key could mint more keys with it; revoking the key must end them too.
    The token's row is locked first, as ``api_token_create`` locks a parent before issuing with
    it, so a token issued at the same moment is either refused or found here. Tokens already
    revoked keep their time; the walk goes on below them all the same (cheap, and safe).
    """
    now = timezone.now()
    row = ApiToken.objects.select_for_update().get(pk=token.pk)
    if row.revoked_at is None:
        row.revoked_at = now
        row.save(update_fields=["revoked_at"])
    token.revoked_at = row.revoked_at
    level = [token.pk]
    while level:  # one level of issued tokens per pass: parents are older, so this ends
        ApiToken.objects.filter(parent_id__in=level, revoked_at__isnull=True).update(revoked_at=now)
        level = list(ApiToken.objects.filter(parent_id__in=level).values_list("pk", flat=True))
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
