from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "signup_open": settings.SIGNUP == "open",
        "site_name": settings.SITE_NAME,
        # Visitors follow their system; a signed-in user's choice is rendered in.
        "theme": user.theme if user is not None and user.is_authenticated else "system",
    }
