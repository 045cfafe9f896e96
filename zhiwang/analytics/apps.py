from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "zhiwang.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from zhiwang.analytics import signals  # noqa: F401  (connects the rollup receiver)
        from zhiwang.analytics.selectors.alerts import alert_ticket_ids
        from zhiwang.tickets.selectors import TICKET_SETS

        # the ticket list's ``alert`` filter: the tickets an alert counted (tickets cannot import us)
        TICKET_SETS["alert"] = alert_ticket_ids
