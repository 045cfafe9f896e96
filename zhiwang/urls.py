"""Top-level URLs: web shell, admin, REST API (/api/v1/, OpenAPI at /api/v1/docs)."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from zhiwang.api import api

# The admin says whose it is (Django's default reads "Django administration" on every page).
admin.site.site_header = _("Zhiwang administration")
admin.site.site_title = _("Zhiwang administration")
admin.site.index_title = _("Zhiwang administration")

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("open311/v2/", include("zhiwang.open311.urls")),
    path("registry/", include("zhiwang.registry.urls")),
    path("disputes/", include("zhiwang.disputes.urls")),
    path("analytics/", include("zhiwang.analytics.urls")),
    path("", include("zhiwang.web.urls")),
]
