"""Zhiwang settings: one module, driven by ``ZHIWANG_*`` environment variables.

Every variable is read through a small typed helper; a bad value stops start-up
with a message naming the variable (see ``ImproperlyConfigured`` below).
The embedded default needs no variable at all: SQLite in ``./var``, an
in-process / SQLite-backed task queue, no other server.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at most {maximum}")
    return value


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name}={raw!r} must be between {minimum} and {maximum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(sorted(choices))}")
    return value


DATA_DIR = Path(env_str("ZHIWANG_DATA_DIR", str(PROJECT_DIR / "var"))).resolve()

DEBUG = env_bool("ZHIWANG_DEBUG", False)
PRODUCTION = env_bool("ZHIWANG_PRODUCTION", False)
if PRODUCTION and DEBUG:
    # Debug pages show tracebacks with local variables, which hold citizens' phones and ID numbers.
    raise ImproperlyConfigured("ZHIWANG_DEBUG=true is refused when ZHIWANG_PRODUCTION=true")

SECRET_KEY = env_str("ZHIWANG_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("ZHIWANG_SECRET_KEY must be set when ZHIWANG_PRODUCTION=true")
    # Embedded default: a per-installation key kept in the data folder, never in the repository.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        from django.utils.crypto import get_random_string

        # Written whole to a private temporary file, then linked into place: the key file is never
        # readable by others nor seen half-written, and of two processes starting together only
        # one link succeeds (the other reads that key below).
        _tmp = DATA_DIR / f".secret_key.{os.getpid()}"
        _fd = os.open(_tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(_fd, "w") as _out:
            _out.write(get_random_string(64))
        try:
            os.link(_tmp, _key_file)
        except FileExistsError:
            pass
        finally:
            _tmp.unlink(missing_ok=True)
    SECRET_KEY = _key_file.read_text().strip()
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            f"{_key_file} is empty: delete it (a new key is generated) or set ZHIWANG_SECRET_KEY"
        )

# Rotating SECRET_KEY (it leaked, or the secret store's policy says so): the old key, listed here,
# still verifies what it signed (sessions, form tokens, dispute parties' links) until those
# expire; then it is removed. Comma-separated, so a key may not contain a comma.
SECRET_KEY_FALLBACKS = env_list("ZHIWANG_SECRET_KEY_FALLBACKS", [])
if SECRET_KEY in SECRET_KEY_FALLBACKS:
    raise ImproperlyConfigured(
        "ZHIWANG_SECRET_KEY_FALLBACKS lists the current ZHIWANG_SECRET_KEY: list only old keys"
    )

ALLOWED_HOSTS = env_list("ZHIWANG_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("ZHIWANG_CSRF_TRUSTED_ORIGINS", [])
# A refused form or panel says what to do, in the reader's language (never Django's DEBUG hint);
# an as-you-type panel gets a one-line notice instead of a page swapped into it.
CSRF_FAILURE_VIEW = "zhiwang.web.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "huey.contrib.djhuey",
    "ninja",
    "zhiwang.core",
    "zhiwang.geo",
    "zhiwang.classifier",
    "zhiwang.accounts",
    "zhiwang.registry",
    "zhiwang.tickets",
    "zhiwang.disputes",
    "zhiwang.open311",
    "zhiwang.analytics",
    "zhiwang.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "zhiwang.web.middleware.ChineseFirstLocaleMiddleware",
    # after the locale (its message is translated), before CSRF (which reads the form)
    "zhiwang.web.middleware.RejectNulBytesMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "zhiwang.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "zhiwang.web.context_processors.shell",
            ],
        },
    },
]

WSGI_APPLICATION = "zhiwang.wsgi.application"
ASGI_APPLICATION = "zhiwang.asgi.application"

# --- Database -------------------------------------------------------------
_default_db_url = f"sqlite:///{DATA_DIR / 'zhiwang.sqlite3'}"
_db_url = env_str("ZHIWANG_DATABASE_URL", _default_db_url)
try:
    _db = dj_database_url.parse(_db_url, conn_max_age=env_int("ZHIWANG_DB_CONN_MAX_AGE", 0, minimum=0))
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"ZHIWANG_DATABASE_URL={_db_url!r} is not a database URL: {exc}") from None
if _db["ENGINE"] not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
    raise ImproperlyConfigured(
        f"ZHIWANG_DATABASE_URL uses {_db['ENGINE']}; Zhiwang supports sqlite:// and postgres:// only"
    )
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] not in ("", ":memory:"):
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = {
        # WAL lets readers and one writer work at once; IMMEDIATE avoids the
        # "database is locked" upgrade deadlock between two writers.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["zhiwang.accounts.backends.ThrottledModelBackend"]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# Login throttling (accounts.backends): failures per username inside the window lock it.
ZHIWANG_LOGIN_MAX_FAILURES = env_int("ZHIWANG_LOGIN_MAX_FAILURES", 5, minimum=1)
ZHIWANG_LOGIN_LOCK_MINUTES = env_int("ZHIWANG_LOGIN_LOCK_MINUTES", 15, minimum=1)
# Failures from all addresses that lock a username everywhere (never below MAX_FAILURES, which
# locks it for one address), failures from one address that refuse it any sign-in (checked before
# the password is hashed), and days failed sign-ins are kept (accounts.services).
ZHIWANG_LOGIN_USERNAME_MAX_FAILURES = env_int("ZHIWANG_LOGIN_USERNAME_MAX_FAILURES", 20, minimum=1)
ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES = env_int("ZHIWANG_LOGIN_ADDRESS_MAX_FAILURES", 20, minimum=1)
ZHIWANG_LOGIN_KEEP_DAYS = env_int("ZHIWANG_LOGIN_KEEP_DAYS", 30, minimum=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time ----------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files: every asset ships in an installed package (offline) ------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it even before collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG


def _vendor_dirs() -> list[tuple[str, str]]:
    """Front-end libraries from installed packages: Leaflet from PyPI, htmx and ECharts from npm.

    ``make install`` runs ``npm ci`` in ``frontend/``; ``ZHIWANG_FRONTEND_DIR`` points
    elsewhere for packaged deployments (after ``collectstatic`` the folder is not needed).
    """
    from xstatic.pkg import leaflet

    dirs = [("vendor/leaflet", leaflet.BASE_DIR)]
    node_modules = Path(env_str("ZHIWANG_FRONTEND_DIR", str(PROJECT_DIR / "frontend"))) / "node_modules"
    for prefix, sub in (("vendor/htmx", "htmx.org/dist"), ("vendor/echarts", "echarts/dist")):
        if (node_modules / sub).is_dir():
            dirs.append((prefix, str(node_modules / sub)))
    return dirs


STATICFILES_DIRS = _vendor_dirs()
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"

# Caches rebuilt from the database at most this often (seconds): the locate index
# (geo) and the work calendar (core). Every web node stays consistent without shared state.
ZHIWANG_GEO_INDEX_CHECK_SECONDS = env_int("ZHIWANG_GEO_INDEX_CHECK_SECONDS", 5, minimum=0)
ZHIWANG_CALENDAR_CHECK_SECONDS = env_int("ZHIWANG_CALENDAR_CHECK_SECONDS", 5, minimum=0)
# How often one process may log and raise a notice about an uncovered calendar year.
ZHIWANG_CALENDAR_NOTICE_SECONDS = env_int("ZHIWANG_CALENDAR_NOTICE_SECONDS", 600, minimum=0)

# Ticket clock and indicators (DOMAIN.md "Tickets"): a deadline warns when this share of
# its working time is used; urge and supervision start this many working days after a breach;
# the response indicator counts contacts within these working hours; the satisfaction
# indicator counts "basically satisfied" with this weight.
ZHIWANG_WARNING_RATIO = env_float("ZHIWANG_WARNING_RATIO", 0.8, minimum=0.01, maximum=1.0)
ZHIWANG_URGE_AFTER_DAYS = env_int("ZHIWANG_URGE_AFTER_DAYS", 1, minimum=0)
ZHIWANG_SUPERVISE_AFTER_DAYS = env_int("ZHIWANG_SUPERVISE_AFTER_DAYS", 5, minimum=0)
ZHIWANG_RESPONSE_HOURS = env_int("ZHIWANG_RESPONSE_HOURS", 24, minimum=1)
ZHIWANG_BASIC_SATISFACTION_WEIGHT = env_float(
    "ZHIWANG_BASIC_SATISFACTION_WEIGHT", 0.8, minimum=0.0, maximum=1.0
)

# Smart dispatch's drift check warns when more than this share of the recent tickets people
# decided are in categories the active model never learned (docs/smart_dispatch.md, "Drift").
ZHIWANG_CLASSIFIER_UNKNOWN_SHARE = env_float(
    "ZHIWANG_CLASSIFIER_UNKNOWN_SHARE", 0.05, minimum=0.0, maximum=1.0
)

# Seconds between checks of the routing configuration version (rules, units, categories,
# time limits) cached in every process; 0 checks on every call.
ZHIWANG_TICKETS_CACHE_CHECK_SECONDS = env_int("ZHIWANG_TICKETS_CACHE_CHECK_SECONDS", 5, minimum=0)
# Concurrent API submissions in one process are written together (tickets.services.submit_group).
ZHIWANG_INTAKE_GROUP_COMMIT = env_bool("ZHIWANG_INTAKE_GROUP_COMMIT", True)
# Queued submissions (Prefer: respond-async) waiting beyond which the header is not honoured:
# the submission is written before the answer, as without it, so a queue whose task worker is
# down or behind cannot grow without end (tickets.services.submit_queue.submission_queue_has_room).
ZHIWANG_INTAKE_QUEUE_LIMIT = env_int("ZHIWANG_INTAKE_QUEUE_LIMIT", 20000, minimum=1)
# Days a hotline import's uploaded file and report (callers' names and phones) are kept after
# the run ended; a daily task deletes them then (the run's counts stay).
ZHIWANG_IMPORT_KEEP_DAYS = env_int("ZHIWANG_IMPORT_KEEP_DAYS", 30, minimum=1)
# Days a registry import's uploaded file (residents' names, ID numbers, phones) is kept after
# its batch's last activity (done, failed and not resumed, validated and not published); a daily
# task deletes it then. The batch and its counts stay; its report of refused rows keeps rows,
# fields and codes but loses values and reasons, which hold residents' data in clear; a batch
# without its file can no longer be resumed or published.
ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS = env_int("ZHIWANG_REGISTRY_IMPORT_KEEP_DAYS", 30, minimum=1)
# Registry: ID numbers not on record in their area (new, or held elsewhere) a caller who does not
# see the whole city may register per hour (zhiwang.registry.services.audit).
ZHIWANG_REGISTRY_UNSEEN_REGISTRATIONS_PER_HOUR = env_int(
    "ZHIWANG_REGISTRY_UNSEEN_REGISTRATIONS_PER_HOUR", 120, minimum=1
)
# Excel files people supply are parsed by openpyxl in a child process (zhiwang.core.xlsx_child),
# limited to this address space (the interpreter and openpyxl take ~45 MB of it) and to this many
# seconds of waiting (and of CPU); beyond either the file is refused (file.xlsx_too_complex).
ZHIWANG_XLSX_CHILD_MEMORY_MB = env_int("ZHIWANG_XLSX_CHILD_MEMORY_MB", 1024, minimum=128)
ZHIWANG_XLSX_CHILD_SECONDS = env_int("ZHIWANG_XLSX_CHILD_SECONDS", 300, minimum=1)
# PDFs (reports, agreements): the Chinese TrueType font to embed ("path" or "path#N" in a .ttc);
# empty looks in the usual places (Debian's fonts-wqy-microhei first), "none" names the
# non-embedded STSong-Light. See zhiwang.core.pdf_fonts.
ZHIWANG_PDF_FONT = env_str("ZHIWANG_PDF_FONT", "")

# Registry: the key of the HMAC that makes ID numbers and phones searchable without scanning
# plain values. Empty falls back to SECRET_KEY; set its own key in production, since rotating
# SECRET_KEY would otherwise make every stored hash useless. Uploaded import files go to
# ZHIWANG_REGISTRY_IMPORT_DIR (default: <data folder>/imports).
ZHIWANG_REGISTRY_HASH_KEY = env_str("ZHIWANG_REGISTRY_HASH_KEY", "")
if PRODUCTION and not ZHIWANG_REGISTRY_HASH_KEY:
    raise ImproperlyConfigured(
        "ZHIWANG_REGISTRY_HASH_KEY must be set when ZHIWANG_PRODUCTION=true (an installation that ran "
        "without it keeps its hashes by setting it to its current ZHIWANG_SECRET_KEY; a new key needs "
        "`zhiwang registry-rehash`)"
    )
ZHIWANG_REGISTRY_IMPORT_DIR = env_str("ZHIWANG_REGISTRY_IMPORT_DIR", "")
# People files of at least this many rows are read and hashed by a forked worker while the
# importing process writes (0: never).
ZHIWANG_REGISTRY_IMPORT_WORKER_MIN_ROWS = env_int("ZHIWANG_REGISTRY_IMPORT_WORKER_MIN_ROWS", 20000, minimum=0)
# SQLite: rows per import transaction (several whole chunks; 0 = one commit per chunk).
ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS = env_int(
    "ZHIWANG_REGISTRY_IMPORT_SQLITE_COMMIT_ROWS", 50000, minimum=0
)

# Analytics: a report queued or running that shows no progress for this many minutes is given up
# (its worker stopped); the requester can ask again.
ZHIWANG_REPORT_STALE_MINUTES = env_int("ZHIWANG_REPORT_STALE_MINUTES", 30, minimum=1)

# Disputes: a case is "near its target" this many days before the one-month target.
ZHIWANG_DISPUTE_NEAR_DAYS = env_int("ZHIWANG_DISPUTE_NEAR_DAYS", 7, minimum=1)
# Disputes: the longest extension of a case's target, in days past the one-month target (our rule;
# DOMAIN.md sets none).
ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS = env_int("ZHIWANG_DISPUTE_EXTENSION_MAX_DAYS", 30, minimum=1, maximum=366)
# Online mediation: the video meeting link of a room, e.g. "https://meet.example.gov.cn/{room}"
# (empty: no video service; the session shows the room code only). A party's link to confirm
# the agreement online expires after ZHIWANG_DISPUTE_CONFIRM_LINK_DAYS days.
ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE = env_str("ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE", "")
ZHIWANG_DISPUTE_CONFIRM_LINK_DAYS = env_int("ZHIWANG_DISPUTE_CONFIRM_LINK_DAYS", 7, minimum=1)

# Map background tiles are optional: government networks are often offline.
# Set e.g. ZHIWANG_MAP_TILE_URL=https://tiles.example.gov.cn/{z}/{x}/{y}.png
ZHIWANG_MAP_TILE_URL = env_str("ZHIWANG_MAP_TILE_URL", "")

# --- Tasks: one interface (huey). -----------------------------------------
# immediate: run in the calling process (tests, tiny installs)
# sqlite:    a SQLite-backed queue in the data folder, consumer started by `zhiwang serve`
# redis:     Redis-backed workers (production), ZHIWANG_REDIS_URL
TASK_BACKEND = env_choice("ZHIWANG_TASKS", "sqlite", {"immediate", "sqlite", "redis"})
REDIS_URL = env_str("ZHIWANG_REDIS_URL", "redis://127.0.0.1:6379/0")
if TASK_BACKEND == "redis":
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": env_str("ZHIWANG_TASK_QUEUE", "zhiwang"),
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": env_int("ZHIWANG_TASK_WORKERS", 2, minimum=1), "worker_type": "thread"},
    }
elif TASK_BACKEND == "sqlite":
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "zhiwang",
        "filename": str(DATA_DIR / "tasks.sqlite3"),
        "immediate": False,
        "consumer": {"workers": env_int("ZHIWANG_TASK_WORKERS", 1, minimum=1), "worker_type": "thread"},
    }
else:
    HUEY = {"huey_class": "huey.MemoryHuey", "name": "zhiwang", "immediate": True}

# --- Cache -----------------------------------------------------------------
# Rate-limit counters (citizen look-ups by number and phone, the public API's throttles) live
# in the cache. With Redis tasks (production) the cache is Redis too, so every process and web
# node counts together; on the embedded default it is per process (local memory). While Redis
# is unreachable each process counts in its own memory (zhiwang.core.cache), so a cache outage
# never fails a citizen's request.
# Entries the local-memory cache (and Redis's per-process fallback) holds before it drops a third:
# the limits' counters live there, two entries each, and Django's default of 300 let a burst of
# look-ups flush an address's sign-in failures (core.throttle).
ZHIWANG_CACHE_MAX_ENTRIES = env_int("ZHIWANG_CACHE_MAX_ENTRIES", 100_000, minimum=1000)
CACHE_BACKEND = env_choice(
    "ZHIWANG_CACHE", "redis" if TASK_BACKEND == "redis" else "locmem", {"locmem", "redis"}
)
if CACHE_BACKEND == "redis":
    CACHES = {
        "default": {
            "BACKEND": "zhiwang.core.cache.ResilientRedisCache",
            "LOCATION": env_str("ZHIWANG_CACHE_URL", REDIS_URL),
            "KEY_PREFIX": "zhiwang",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": ZHIWANG_CACHE_MAX_ENTRIES},
        }
    }

# --- Security -------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# A signed-in session lasts one working shift (Django's default is two weeks), since every role
# but the citizen's sees personal data; the command centre's 12-hour shift is the default.
SESSION_COOKIE_AGE = env_int("ZHIWANG_SESSION_HOURS", 12, minimum=1, maximum=24 * 14) * 3600
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Reverse proxies in front of the web nodes that append the client's address to
# X-Forwarded-For. Rate limits (citizen tracking, public API) key on the client address:
# 0 (the default) trusts no header and uses the connection's address; behind one nginx set 1.
# A client-sent X-Forwarded-For is never trusted beyond that many hops.
ZHIWANG_NUM_PROXIES = env_int("ZHIWANG_NUM_PROXIES", 0, minimum=0)
# Open311: POSTs one api_key may send an hour (0: no limit); a runaway integration is answered 429.
ZHIWANG_OPEN311_REQUESTS_PER_HOUR = env_int("ZHIWANG_OPEN311_REQUESTS_PER_HOUR", 2000, minimum=0)
# Open311: reads of service requests (GET requests, requests/{id}) one client address may make a
# minute without an api_key (0: no limit); answered 429 past it. Callers sending their api_key are
# counted per client instead (ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE).
ZHIWANG_OPEN311_READS_PER_MINUTE = env_int("ZHIWANG_OPEN311_READS_PER_MINUTE", 60, minimum=0)
# Open311: reads of service requests one client may make a minute with its api_key, from however many
# addresses (0: no limit); answered 429 past it. Counted per client, so a leaked key is bounded too.
ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE = env_int("ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE", 600, minimum=0)
# The public report form (/report/), per client address: reports an hour and a day, and photo bytes
# a day (0 turns a limit off). Generous: a mobile carrier puts many citizens behind one address.
ZHIWANG_CITIZEN_REPORTS_PER_HOUR = env_int("ZHIWANG_CITIZEN_REPORTS_PER_HOUR", 10, minimum=0)
ZHIWANG_CITIZEN_REPORTS_PER_DAY = env_int("ZHIWANG_CITIZEN_REPORTS_PER_DAY", 30, minimum=0)
ZHIWANG_CITIZEN_REPORT_BYTES_PER_DAY = env_int(
    "ZHIWANG_CITIZEN_REPORT_BYTES_PER_DAY", 200 * 1024 * 1024, minimum=0
)
# The public report form's as-you-type category suggestions run the classifier for anyone: loads
# per client address an hour before the panel answers empty (0: no limit; a long report takes ~100).
ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR = env_int("ZHIWANG_CITIZEN_SUGGESTIONS_PER_HOUR", 1200, minimum=0)
NINJA_NUM_PROXIES = ZHIWANG_NUM_PROXIES
# The largest page a list answers (`limit`); `offset` is bounded in zhiwang.core.pagination.
NINJA_PAGINATION_MAX_LIMIT = 1000

# --- Logging --------------------------------------------------------------
#: A Python level name, in any case ("warning" crashed start-up with a logging traceback).
LOG_LEVEL = (os.environ.get("ZHIWANG_LOG_LEVEL") or "INFO").strip().upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"ZHIWANG_LOG_LEVEL={LOG_LEVEL!r} must be one of: CRITICAL, DEBUG, ERROR, INFO, WARNING"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
