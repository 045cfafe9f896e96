"""Exit 0 when the PostgreSQL server of a database URL answers (used by scripts/test.sh)."""

import sys

import psycopg


def main(url: str) -> int:
    # Connect to the maintenance database: the test database is created by pytest-django.
    base = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(base.replace("postgres://", "postgresql://", 1), connect_timeout=3):
            return 0
    except psycopg.Error as exc:
        print(f"PostgreSQL not reachable: {exc}".strip())
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
