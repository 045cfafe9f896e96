from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "zhiwang.tickets"
    label = "tickets"
    verbose_name = _("Tickets")

    def ready(self):
        from zhiwang.core.sqlite_stats import sqlite_index_register
        from zhiwang.tickets.cache import connect_signals

        connect_signals()
        # built by migration 0018 on SQLite only; rebuilt after a migrate whose table rebuild dropped it
        sqlite_index_register(
            "tickets_division_received", "tickets_ticket", ("division_id", "received_at", "id")
        )
