"""Print the REST API's endpoints as the Markdown table of docs/api.md (from the OpenAPI document).

    .venv/bin/python scripts/api_endpoints.py > /tmp/endpoints.md

tests/web/test_api_docs.py checks that docs/api.md lists every endpoint.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhiwang.settings")


def endpoints() -> list[tuple[str, str, str, str]]:
    """(app, METHOD, path below /api/v1, summary) in the order the routers declare them."""
    import django

    django.setup()
    from zhiwang.api import api

    rows = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        short = path.removeprefix("/api/v1")
        for method, operation in operations.items():
            rows.append((short.split("/")[1], method.upper(), short, operation.get("summary", "")))
    return rows


def main() -> None:
    current = None
    for app, method, path, summary in endpoints():
        if app != current:
            current = app
            print(f"\n### {app}\n\n| method and path | what |\n|---|---|")
        print(f"| `{method} {path}` | {summary} |")


if __name__ == "__main__":
    main()
