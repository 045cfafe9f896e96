"""REST API of the analytics app, mounted at /api/v1/analytics/ by zhiwang.api."""

from ninja import Router

router = Router(tags=["analytics"])
