from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "zhiwang.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import post_migrate

        from zhiwang.core.pdf_fonts import check_pdf_font
        from zhiwang.core.sqlite_stats import after_migrate

        # once per migrate (the signal is sent per app): a migration that rebuilt a table on
        # SQLite dropped its planner statistics
        post_migrate.connect(after_migrate, sender=self, dispatch_uid="core_sqlite_statistics")
        checks.register(check_pdf_font)
