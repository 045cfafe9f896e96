"""``zhiwang analytics_index [--month YYYY-MM | --past [--recompute]]``: compute (or recompute) a month's
governance index and its stored indicator figures (docs/analytics.md, §4 and "Stored indicators").

``--past`` fills gaps: a month already scored keeps its index, a month with stored figures keeps
them (``--recompute`` recomputes the figures of every month; the index stays as scored).
``--month`` always recomputes that month."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from zhiwang.analytics.index import active_formula, governance_index_compute, validate_min_volume
from zhiwang.analytics.indicator_figures import indicator_figures_compute, months_with_timeline
from zhiwang.analytics.models import GovernanceIndex, IndicatorFigure
from zhiwang.core.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Compute the governance index of every subdistrict and community for a month that has ended "
        "(default: last month) with the active formula, and the month's stored indicator figures "
        "(city, districts, subdistricts, communities, handling units), replacing that month's rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", default="", help="YYYY-MM (default: the month before this one).")
        parser.add_argument(
            "--past",
            action="store_true",
            help=(
                "Every ended month from the first ticket's month to last month (a new "
                "installation, the demo); months already scored keep their index, months with "
                "figures keep them."
            ),
        )
        parser.add_argument(
            "--recompute",
            action="store_true",
            help=(
                "With --past: recompute the indicator figures of months that have them as well (with "
                "today's settings and timeline); the index of a month already scored is still kept."
            ),
        )
        parser.add_argument(
            "--figures-only", action="store_true", help="Only the indicator figures, not the index."
        )
        parser.add_argument(
            "--min-volume",
            type=int,
            default=None,
            help=(
                "Set the active formula's minimum tickets due to close for a place to be ranked before "
                "computing (the demo's thin history: 1; a city's default is 5)."
            ),
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(
        self,
        *args,
        month="",
        past=False,
        recompute=False,
        figures_only=False,
        no_progress=False,
        min_volume=None,
        **options,
    ):
        if month and past:
            raise CommandError("give --month or --past, not both")
        if recompute and not past:
            raise CommandError("--recompute goes with --past (--month always recomputes its month)")
        if min_volume is not None:
            try:
                minimum = validate_min_volume(min_volume)
            except ServiceError as error:
                raise CommandError(f"--min-volume: {error.message}") from None
            formula = active_formula(create=True)
            formula.min_volume = minimum
            formula.save(update_fields=["min_volume", "updated_at"])
            self.stdout.write(
                f"formula {formula.name}: a place is ranked with at least {minimum} due to close in the month"
            )
        if past:
            chosen = months_with_timeline(before=timezone.localdate())
        elif month:
            try:
                chosen = [date.fromisoformat(f"{month.strip()}-01")]
            except ValueError:
                raise CommandError(f"--month {month!r}: give the month as YYYY-MM") from None
        else:
            chosen = [(timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)]
        for one in chosen:
            try:
                if figures_only:
                    pass
                elif past and GovernanceIndex.objects.filter(month=one).exists():
                    # scored already, by the formula of its time: --past fills gaps, never re-scores
                    self.stdout.write(f"governance index {one:%Y-%m}: kept (already scored)")
                else:
                    rows = governance_index_compute(month=one)
                    self.stdout.write(f"governance index {one:%Y-%m}: {rows} divisions scored")
                if past and not recompute and IndicatorFigure.objects.filter(month=one).exists():
                    # stored already: --past fills gaps, never silently changes published figures
                    self.stdout.write(f"indicator figures {one:%Y-%m}: kept (already computed)")
                    continue
                figures = self._figures(one, no_progress)
            except ServiceError as error:
                raise CommandError(f"{error.field or 'month'}: {error.message}") from None
            self.stdout.write(f"indicator figures {one:%Y-%m}: {figures} rows")
        if past and not chosen:
            self.stdout.write("no ended month with tickets: nothing computed")

    @staticmethod
    def _figures(month: date, no_progress: bool) -> int:
        bar = tqdm(desc=f"indicators {month:%Y-%m}", unit="query", disable=no_progress)

        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        try:
            return indicator_figures_compute(month=month, progress=progress)
        finally:
            bar.close()
