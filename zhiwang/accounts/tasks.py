"""Periodic work of the accounts app (huey; thin wrappers over services)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from zhiwang.accounts.services import login_attempts_purge


@db_periodic_task(crontab(hour="3", minute="50"))
def login_attempts_purge_task() -> int:
    """Every night: delete sign-in attempts older than ``ZHIWANG_LOGIN_KEEP_DAYS`` (default 30)."""
    return login_attempts_purge()
