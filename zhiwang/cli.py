"""The `zhiwang` console command: manage.py for operators.

`zhiwang serve`, `zhiwang demo`, `zhiwang locate`, `zhiwang import-boundaries` and every
Django management command (`zhiwang migrate`, `zhiwang createsuperuser`, ...).
"""

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhiwang.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    argv[0] = "zhiwang"
    # Operators type `zhiwang import-boundaries`; Django commands are named with underscores.
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        print(f"zhiwang: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
