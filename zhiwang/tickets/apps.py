from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "zhiwang.tickets"
    label = "tickets"
    verbose_name = _("Tickets")

    def ready(self):
        from zhiwang.tickets.cache import connect_signals

        connect_signals()
