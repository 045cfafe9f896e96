"""Role-aware navigation for the shell."""


def navigation_for(user, current_path: str) -> list[dict]:
    return []
