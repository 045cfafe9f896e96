#!/usr/bin/env bash
# The whole test suite, as CI runs it: tests on PostgreSQL (in the background on two or more
# cores), lint, layer contracts, migrations check, tests on SQLite (with the browser tests). Under
# CI=true PostgreSQL and Chromium are required; elsewhere their absence is reported and those
# parts are skipped. Each run lists its 15 slowest tests.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export ZHIWANG_DATA_DIR="${ZHIWANG_DATA_DIR:-$(mktemp -d)}"
export ZHIWANG_TASKS=immediate
CI="${CI:-}"
status=0

step() { printf '\n=== %s ===\n' "$*"; }

# The two database runs are independent (own data directory, own database), so on a
# machine with two or more cores the PostgreSQL run goes in the background while the SQLite
# run (with the browser) streams here; its output follows when both are done. Set
# ZHIWANG_TEST_SERIAL=1 to run them one after the other.
PG_URL="${ZHIWANG_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/zhiwang}"
pg_state=skip
if $BIN/python scripts/pg_reachable.py "$PG_URL"; then
  pg_state=run
elif [ -n "$CI" ]; then
  pg_state=fail
fi
run_pg() {
  ZHIWANG_DATA_DIR="$(mktemp -d)" ZHIWANG_DATABASE_URL="$PG_URL" \
    $BIN/pytest -q -p no:cacheprovider --durations=15 -m "not browser"
}
# System packages, before the PostgreSQL run starts (its PDF tests need the font): Debian's
# chromium for the browser tests, driven by Playwright for Python (no browser download), and a
# Chinese TrueType font that PDFs embed (fonts-wqy-microhei; no PyPI package ships one reportlab
# can embed). Installed only as root with apt-get; elsewhere their tests skip, and say so.
packages=()
if [ -z "${ZHIWANG_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then packages+=(chromium); fi
if [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then packages+=(fonts-wqy-microhei); fi
if [ ${#packages[@]} -gt 0 ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  step "installing Debian packages: ${packages[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null) \
    || echo "could not install ${packages[*]}"
fi
if [ -z "${ZHIWANG_CHROMIUM:-}" ]; then
  export ZHIWANG_CHROMIUM="$(command -v chromium || true)"
fi
if [ -z "$ZHIWANG_CHROMIUM" ]; then
  if [ -n "$CI" ]; then echo "CI=true but no chromium: browser tests cannot run"; status=1; fi
  echo "No chromium found: browser tests will be skipped."
fi

pg_log="$(mktemp)"
# a cancelled run (Ctrl-C, CI timeout) stops the background PostgreSQL run too
trap 'rm -f "$pg_log"; if [ -n "${pg_pid:-}" ]; then pkill -P "$pg_pid" 2>/dev/null; kill "$pg_pid" 2>/dev/null; fi; true' EXIT
trap 'exit 130' INT TERM
pg_pid=""
if [ "$pg_state" = run ] && [ -z "${ZHIWANG_TEST_SERIAL:-}" ] && [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ]; then
  echo "(the PostgreSQL run starts now in the background; its output follows the SQLite run)"
  run_pg >"$pg_log" 2>&1 &
  pg_pid=$!
fi

step "lint (ruff)"
$BIN/ruff check . && $BIN/ruff format --check . || status=1

step "layer contracts (import-linter)"
$BIN/lint-imports || status=1

step "migrations are complete"
$BIN/python manage.py makemigrations --check --dry-run >/dev/null || { echo "missing migrations: run 'zhiwang makemigrations'"; status=1; }

step "tests on SQLite"
ZHIWANG_DATABASE_URL="sqlite:///$ZHIWANG_DATA_DIR/test.sqlite3" $BIN/pytest -q -p no:cacheprovider --durations=15
rc=$?; [ $rc -eq 0 ] || status=1

step "tests on PostgreSQL ($PG_URL)"
if [ -n "$pg_pid" ]; then
  wait "$pg_pid"; rc=$?
  cat "$pg_log"
  [ $rc -eq 0 ] || status=1
elif [ "$pg_state" = run ]; then
  run_pg; rc=$?; [ $rc -eq 0 ] || status=1
elif [ "$pg_state" = fail ]; then
  echo "CI=true and PostgreSQL is unreachable at $PG_URL: failing."
  status=1
else
  echo "PostgreSQL is unreachable at $PG_URL: SKIPPED the PostgreSQL run (set ZHIWANG_TEST_POSTGRES_URL)."
fi

step "result"
if [ $status -eq 0 ]; then echo "all green"; else echo "FAILED"; fi
exit $status
