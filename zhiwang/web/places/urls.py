"""URLs of the place pages (included by zhiwang.web.urls under the ``web`` namespace)."""

urlpatterns: list = []
