"""REST API of the disputes app, mounted at /api/v1/disputes/ by zhiwang.api."""

from ninja import Router

router = Router(tags=["disputes"])
