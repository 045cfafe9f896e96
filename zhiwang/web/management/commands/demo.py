"""`zhiwang demo`: the demo city on the real Shenzhen divisions, with an account per role."""

import logging
from datetime import datetime, time, timedelta
from importlib import import_module
from io import StringIO

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from zhiwang.accounts.demo import DEMO_PASSWORD, demo_accounts_create
from zhiwang.accounts.models import User
from zhiwang.disputes.demo import demo_disputes_create
from zhiwang.geo.demo import SCALES, demo_geography_build
from zhiwang.geo.models import Division, DivisionLevel, Grid
from zhiwang.registry.demo import demo_registry_clear, demo_registry_create
from zhiwang.tickets.demo import demo_classifier_train, demo_routing_create
from zhiwang.tickets.history import demo_tickets_create
from zhiwang.tickets.models import Ticket
from zhiwang.tickets.services.places import ticket_place_codes, ticket_places_reattach

#: Scales whose registry covers one district only (its 6-digit code prefix below).
QUICK_SCALES = frozenset({"tiny", "small"})
REGISTRY_DEMO_DISTRICT = "440305000000"  # 南山区

#: Ticket histories made through the real services (rollups, timelines and clocks included).
DEMO_TICKETS = {"tiny": 40, "small": 300, "medium": 1000, "large": 2000}
#: The days the ticket histories cover, up to today (the alert detection runs over each of them).
DEMO_DAYS = 60


def alert_detection():
    """``analytics.services.alerts_detect``, found by name in the installed apps: ``web`` may not
    import ``analytics``, its neighbour on the top floor (DESIGN.md), as ``rehash_all`` finds the
    apps' steps. The detectors stay the periodic task's own (``analytics.tasks``)."""
    config = apps.get_app_config("analytics")
    return import_module(f"{config.name}.services").alerts_detect


#: Alert kinds whose detector reads the tickets as they are now, not as they were on the day it is
#: given (``analytics.alerts.detect_repeat_reopens``: open tickets reopened twice or more). Replayed
#: over past days it would raise the alert on the history's first day, before the ticket existed.
PRESENT_STATE_KINDS = frozenset({"repeat_reopen"})


def demo_alerts_detect(*, days: int, progress=None) -> dict[str, int]:
    """Run the early-warning detection for each of the last ``days`` days and today, oldest first,
    as the twice-hourly task would have while the history happened: a fresh demo's alerts page
    has alerts (and alerts resolved since), not "no alerts" until the task first runs. Idempotent:
    a second run finds the same alerts and creates none. Returns the summed counts.

    The past days run the detectors that read their day's tickets; those that read only the present
    (``PRESENT_STATE_KINDS``) run for today."""
    detect = alert_detection()
    alert_model = apps.get_model("analytics", "Alert")
    past_kinds = [
        k for k, _label in alert_model._meta.get_field("kind").choices if k not in PRESENT_STATE_KINDS
    ]
    today = timezone.localdate()
    totals = {}
    for done, back in enumerate(range(days, -1, -1), start=1):
        day = today - timedelta(days=back)
        started = timezone.now()
        for name, count in detect(today=day, kinds=past_kinds if back else None).items():
            totals[name] = totals.get(name, 0) + count
        if back:
            # raised that day, as the task would have (at its first run of the day after), not all
            # at the minute the demo ran: the list's "raised at" reads like a history
            raised = timezone.make_aware(datetime.combine(day + timedelta(days=1), time(0, 7)))
            alert_model.objects.filter(created_at__gte=started).update(created_at=raised)
        if progress is not None:
            progress(done, days + 1)
    return totals


class Command(BaseCommand):
    help = "Build the demo city: synthetic grids and addresses on the real divisions, and demo accounts."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=list(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when grids already exist.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, scale, seed, if_empty, no_progress, **options):
        if getattr(settings, "PRODUCTION", False):
            # Its accounts (an administrator among them) share one password printed in the
            # README and below: on a reachable installation anybody could sign in with them.
            raise CommandError(
                "Refusing to build the demo city with ZHIWANG_PRODUCTION=true: its accounts, an "
                "administrator among them, share one published password. Run the demo on a "
                "machine of its own without ZHIWANG_PRODUCTION."
            )
        if if_empty and Grid.objects.exists():
            self.stdout.write("Demo data already present; nothing to do (drop --if-empty to rebuild).")
            return
        bar = tqdm(total=None, desc=f"demo city ({scale})", unit="community", disable=no_progress)

        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        # Registry links protect standard addresses: clear them before the city is rebuilt.
        demo_registry_clear()
        # Tickets of an earlier city lose their grids and addresses with it (set to none), and the
        # rollups still count them there: a grid's surge would name a grid that is gone. They are
        # put back at the addresses and grids of the same codes (the same places for the same seed),
        # else every ticket of the earlier demo would be unlocated and out of the grid workers' sight.
        rebuilt_over_tickets = Ticket.objects.exists()
        places = ticket_place_codes() if rebuilt_over_tickets else {}
        try:
            result = demo_geography_build(scale=scale, seed=seed, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        ticket_places_reattach(places)
        accounts = demo_accounts_create()
        routing = demo_routing_create()
        # The quick scales fill the registry of one district (where the demo grid worker and
        # subdistrict staff work) so that `make run` is up in about a minute; medium and large
        # fill the whole city.
        communities = None
        if scale in QUICK_SCALES:
            communities = list(
                Division.objects.filter(
                    level=DivisionLevel.COMMUNITY, code__startswith=REGISTRY_DEMO_DISTRICT[:6]
                ).order_by("code")
            )
        registry = self._step(
            f"registry ({scale})",
            no_progress,
            demo_registry_create,
            scale=scale,
            seed=seed,
            communities=communities,
            steward_work=True,
        )
        disputes = self._step("disputes", no_progress, demo_disputes_create, seed=seed)
        # Trained before the histories, so their intake corrections feed the threshold curve.
        model = self._step("classifier", no_progress, demo_classifier_train)
        # The simulated citizens get hundreds of texts, and the history runs 1,440 hourly clock
        # sweeps: their logs need not print them all (warnings and errors still show).
        quiet = [logging.getLogger(name) for name in ("zhiwang.notify", "zhiwang.tickets.services.clock")]
        levels = [log.level for log in quiet]
        for log in quiet:
            log.setLevel(logging.WARNING)
        try:
            history = self._step(
                "tickets",
                no_progress,
                demo_tickets_create,
                count=DEMO_TICKETS.get(scale, 300),
                seed=seed,
                days=DEMO_DAYS,
                events=True,
                personas=True,
            )
        finally:
            for log, level in zip(quiet, levels, strict=True):
                log.setLevel(level)
        # The histories' clock sweeps write their warnings, urges and supervisions in bulk, which the
        # task worker's periodic catch-up counts; count them now so the dashboards are right at once
        # (with ZHIWANG_TASKS=immediate no periodic task ever runs). By its command: analytics is a
        # floor above this one (DESIGN.md).
        caught_up = StringIO()
        if rebuilt_over_tickets:
            # counted again from the timelines, at the places the tickets have now
            call_command("analytics_rebuild", stdout=caught_up)
        else:
            call_command("analytics_rebuild", "--catch-up", stdout=caught_up)
        # the early warnings of the history's days (after the catch-up: the detectors read the
        # rollups), which otherwise appear only once the twice-hourly task runs
        alerts = self._step("alerts", no_progress, demo_alerts_detect, days=DEMO_DAYS)
        # the governance index and the stored indicators of every month the history has ended (the
        # monthly task would compute them on the 1st): the index and 考核指标 pages have figures at once
        scored = StringIO()
        # a demo history is thin (300 tickets in 60 days for the whole city; Shenzhen has ~400,000 a
        # month): with a city's minimum of 5 tickets due no place would be ranked
        call_command("analytics_index", "--past", "--min-volume", "1", "--no-progress", stdout=scored)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo city: {result.divisions} divisions, {result.grids} grids, {result.buildings} buildings, "
                f"{result.units} units, {result.rooms} rooms."
            )
        )
        self.stdout.write(f"Routing: {routing['units']} handling units, {routing['rules']} rules.")
        self.stdout.write(
            f"Registry: {registry.people} people, {registry.entities} legal entities, "
            f"{registry.housing} housing records, {registry.residences} residences"
            + (" (南山区 only; --scale medium fills the whole city)." if communities is not None else ".")
        )
        self.stdout.write(
            f"Data steward (demo_steward): {registry.conflicts} merge conflicts and "
            f"{registry.reviews} registrations to check waiting."
        )
        self.stdout.write(f"Dashboards: {caught_up.getvalue().strip()} (the sweep rows of the histories).")
        self.stdout.write(
            "Governance index and indicators: "
            + "; ".join(line for line in scored.getvalue().splitlines() if line.strip())
            + "."
        )
        self.stdout.write(
            f"Alerts: {alerts.get('created', 0)} raised over the last {DEMO_DAYS} days, "
            f"{alerts.get('resolved', 0)} of them resolved since (detection then runs twice an hour)."
        )
        self.stdout.write(
            "Disputes: " + ", ".join(f"{count} {what}" for what, count in disputes.items()) + "."
        )
        self.stdout.write(
            f"Tickets: {history.created} new over {DEMO_DAYS} days ({history.existing} already there), "
            + ", ".join(f"{count} {status}" for status, count in history.statuses.most_common())
            + f"; {history.planted} of the new ones in planted events (a noise surge, a wage-arrears "
            "group at one factory, a repeat caller, a sewer reopened again and again), "
            f"{history.personas} the demo citizen's and grid worker's own."
        )
        self.stdout.write(
            f"Classifier: {model.name} v{model.version}, {len(model.labels)} categories, "
            f"threshold {model.threshold or 0:.3f}."
        )
        self.stdout.write(f"Demo accounts (password: {DEMO_PASSWORD}):")
        for account in accounts:
            self.stdout.write(
                f"  {account.username:<22} {account.role:<16} {account.full_name}  "
                f"{account.unit or '—'}  [{account.where}]"
            )
        # Made by the disputes demo: the service centre's window and a second mediator.
        for user in (
            User.objects.filter(username__in=("demo_window", "demo_mediator2"))
            .select_related("org_unit__division")
            .order_by("-username")
        ):
            unit = user.org_unit
            self.stdout.write(
                f"  {user.username:<22} {user.role:<16} {user.full_name}  "
                f"{unit.name if unit else '—'}  [{unit.division.name if unit and unit.division else '—'}]"
            )

    @staticmethod
    def _step(desc: str, no_progress: bool, build, **kwargs):
        """Run one demo builder with its own bar.

        Builders report ``progress(done, total)``; the classifier's training reports
        ``progress(stage, done, total)`` and the stage then names the bar.
        """
        bar = tqdm(total=None, desc=desc, disable=no_progress)

        current = {"stage": None}

        def progress(*args):
            *stage, done, total = args
            if stage and stage[0] != current["stage"]:
                current["stage"] = stage[0]
                bar.set_description(f"{desc}: {stage[0]}")
                bar.reset(total=total)
            bar.total = total
            bar.update(done - bar.n)

        try:
            return build(progress=progress, **kwargs)
        finally:
            bar.close()
