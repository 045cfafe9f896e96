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
    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        print(f"zhiwang: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0
