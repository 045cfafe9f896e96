"""`zhiwang serve`: the embedded server — migrations, the task consumer and the web app in one command.

Production runs the same app under gunicorn (WSGI, `zhiwang/gunicorn_conf.py`) and a
separate `zhiwang run_huey` consumer on Redis (see docs/production.md).
"""

import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)


def _die_with_parent() -> None:
    """In the consumer, before it starts: ask Linux to send it SIGTERM when this process dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Command(BaseCommand):
    help = "Serve Zhiwang: apply migrations, start the task consumer, serve HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true")
        parser.add_argument("--no-worker", action="store_true", help="Do not start the task consumer.")

    def handle(self, *args, host, port, no_migrate, no_worker, **options):
        import uvicorn

        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        worker = None
        # A SIGTERM before uvicorn takes the signals over (or after it hands them back) ends
        # this process through the ``finally`` below, which stops the consumer.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        if not no_worker and settings.TASK_BACKEND != "immediate":
            # The consumer runs beside the web process; it stops with it — even when this
            # process is killed outright (SIGKILL, the OOM killer), on Linux.
            worker = subprocess.Popen(
                [sys.executable, "-m", "zhiwang.cli", "run_huey", "--quiet"], preexec_fn=_die_with_parent
            )
            self.stdout.write(f"Task consumer started ({settings.TASK_BACKEND} queue, pid {worker.pid}).")
        self.stdout.write(self.style.SUCCESS(f"Zhiwang at http://{host}:{port}/  (Ctrl+C to stop)"))
        try:
            uvicorn.run("zhiwang.asgi:application", host=host, port=port, log_level="info", lifespan="off")
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
