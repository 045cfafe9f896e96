"""The demo accounts carry plain person names: the role is the account's, shown beside the name.

Was: "调解员 周芳", "热线受理员 王敏", … in every timeline row and under "调解员（签名）" in an
agreement, so the role was said twice wherever the page also named it.
"""

from __future__ import annotations

import pytest

from zhiwang.accounts.demo import DEMO_PASSWORD, demo_accounts_create
from zhiwang.accounts.models import User

pytestmark = pytest.mark.django_db

#: Words that name a role or a post, not a person (the roles of DESIGN.md and the demo's posts).
ROLE_WORDS = (
    "管理员",
    "受理员",
    "分拨员",
    "承办人",
    "调解员",
    "领导",
    "网格员",
    "民警",
    "市民",
    "窗口",
    "综治",
    "局",
    "街道",
    "区",
)


def test_no_demo_account_name_holds_a_role_word():
    accounts = demo_accounts_create(password="pw-for-tests")
    assert len(accounts) == 14
    for account in accounts:
        user = User.objects.get(username=account.username)
        assert user.display_name == account.full_name
        assert not any(word in user.display_name for word in ROLE_WORDS), user.display_name
        assert 2 <= len(user.display_name) <= 3 and " " not in user.display_name
    # the role is still the account's, and what the name no longer says is printed beside it
    by_username = {a.username: a for a in accounts}
    assert (
        by_username["demo_mediator"].role == "mediator" and by_username["demo_mediator"].full_name == "周芳"
    )
    assert by_username["demo_handler"].unit == "南山区城市管理和综合执法局"
    assert by_username["demo_citizen"].unit == ""


def test_usernames_and_the_password_are_unchanged():
    demo_accounts_create()
    usernames = set(User.objects.filter(username__startswith="demo_").values_list("username", flat=True))
    assert {
        "demo_admin",
        "demo_hotline",
        "demo_city_dispatcher",
        "demo_ns_dispatcher",
        "demo_lh_dispatcher",
        "demo_sub_dispatcher",
        "demo_handler",
        "demo_sub_handler",
        "demo_mediator",
        "demo_leader",
        "demo_steward",
        "demo_grid_worker",
        "demo_grid_police",
        "demo_citizen",
    } <= usernames
    assert DEMO_PASSWORD == "zhiwang-demo-2026"
    assert User.objects.get(username="demo_leader").check_password("zhiwang-demo-2026")
