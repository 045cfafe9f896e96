"""Values every page of the shell needs (navigation by role, map settings)."""

from functools import cache

from django.conf import settings

from zhiwang.accounts.roles import is_staff_member


def shell(request):
    from zhiwang.web.navigation import navigation_for

    user = getattr(request, "user", None)
    return {
        "nav_items": navigation_for(user, request.path) if user is not None else [],
        "map_tile_url": settings.ZHIWANG_MAP_TILE_URL,
        # a callable, run once per page and only where a template shows it (the top bar of staff)
        "unread_notifications": cache(lambda: _unread(user)),
        # who has an inbox (and a bell): the same check as the inbox itself (a superuser included)
        "has_inbox": user is not None and is_staff_member(user),
    }


def _unread(user) -> int:
    from zhiwang.tickets.notification_selectors import notifications_unread_count

    if user is None:
        return 0
    return notifications_unread_count(user)  # 0 for anybody but staff (``accounts.roles``)
