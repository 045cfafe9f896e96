"""REST API of the registry app, mounted at /api/v1/registry/ by zhiwang.api."""

from ninja import Router

router = Router(tags=["registry"])
