"""`zhiwang demo` refuses to run in production mode: its accounts share a published password."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from zhiwang.accounts.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def test_the_demo_refuses_production_mode(settings, admin_user):
    settings.PRODUCTION = True
    out = StringIO()
    with pytest.raises(CommandError, match="ZHIWANG_PRODUCTION"):
        call_command("demo", "--scale", "tiny", "--no-progress", stdout=out)
    # nothing was touched: the demo administrator keeps its (test) password, not the published one
    admin_user.refresh_from_db()
    assert not admin_user.check_password(DEMO_PASSWORD)
    assert admin_user.check_password("pw-for-tests")
    assert out.getvalue() == ""


def test_the_guard_comes_before_if_empty(settings):
    """Even the no-op of `--if-empty` (the city is there) is refused: the answer must not depend
    on what the database holds."""
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="published password"):
        call_command("demo", "--if-empty", "--no-progress", stdout=StringIO())
