from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "zhiwang.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from zhiwang.analytics import signals  # noqa: F401  (connects the rollup receiver)
