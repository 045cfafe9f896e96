"""``zhiwang analytics_index [--month YYYY-MM]``: compute (or recompute) a month's governance index."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from zhiwang.analytics.index import governance_index_compute
from zhiwang.core.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Compute the governance index of every subdistrict and community for a month that has ended "
        "(default: last month) with the active formula, replacing that month's rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", default="", help="YYYY-MM (default: the month before this one).")

    def handle(self, *args, month="", **options):
        if month:
            try:
                chosen = date.fromisoformat(f"{month.strip()}-01")
            except ValueError:
                raise CommandError(f"--month {month!r}: give the month as YYYY-MM") from None
        else:
            chosen = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
        try:
            rows = governance_index_compute(month=chosen)
        except ServiceError as error:
            raise CommandError(f"{error.field or 'month'}: {error.message}") from None
        self.stdout.write(f"governance index {chosen:%Y-%m}: {rows} divisions scored")
