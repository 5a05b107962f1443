"""Which key a user's calls go out with, and the client that carries it."""

from typing import Any

from django.conf import settings

from .aitre import AitreClient
from .models import Credential


def site_endpoint() -> tuple[str, str]:
    """(base URL, key) of the site: the newest active stored one, else the environment's."""
    stored = Credential.objects.site().first()
    if stored is not None:
        return (stored.base_url or settings.AITRE_BASE_URL), stored.key
    return settings.AITRE_BASE_URL, settings.AITRE_API_KEY


def endpoint_for(user: Any) -> tuple[str, str]:
    base_url, key = site_endpoint()
    personal = Credential.objects.personal(user).first()
    if personal is not None and personal.key:
        key = personal.key
    return base_url, key


def client_for(user: Any, endpoint: tuple[str, str] | None = None) -> AitreClient:
    base_url, key = endpoint or endpoint_for(user)
    return AitreClient(
        base_url,
        key,
        connect_timeout=settings.AITRE_CONNECT_TIMEOUT,
        read_timeout=settings.AITRE_READ_TIMEOUT,
        stream_idle_timeout=settings.AITRE_STREAM_IDLE_TIMEOUT,
    )
