"""docs/api.md lists every endpoint of the OpenAPI document (regenerate with scripts/api_endpoints.py)."""

from pathlib import Path

from zhiwang.api import api

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_endpoint_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [
        f"{method.upper()} {path.removeprefix('/api/v1')}"
        for path, operations in api.get_openapi_schema()["paths"].items()
        for method in operations
        if f"`{method.upper()} {path.removeprefix('/api/v1')}`" not in text
    ]
    assert not missing, f"docs/api.md lacks {missing}: run scripts/api_endpoints.py"
