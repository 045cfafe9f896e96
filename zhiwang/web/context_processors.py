"""Values every page of the shell needs (navigation by role, map settings)."""

from django.conf import settings


def shell(request):
    from zhiwang.web.navigation import navigation_for

    user = getattr(request, "user", None)
    return {
        "nav_items": navigation_for(user, request.path) if user is not None else [],
        "map_tile_url": settings.ZHIWANG_MAP_TILE_URL,
    }
