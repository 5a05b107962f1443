"""Which key a user's calls go out with, and the client that carries it."""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .client import AitreClient
from .client.base import shared_session
from .models import Credential

if TYPE_CHECKING:
    from accounts.models import User

# Credentials are read for every reply and change rarely: each process
# keeps what it read for a few seconds. Saving one clears this process's copy
# at once; other processes see the change within CACHE_SECONDS.
CACHE_SECONDS = 5.0
_cached: dict[Any, tuple[float, Any]] = {}


def _remember(key: Any, read: Callable[[], Any]) -> Any:
    now = time.monotonic()
    hit = _cached.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    value = read()
    _cached[key] = (now, value)
    return value


def forget() -> None:
    """Drop what this process remembers (on every save; tests call it too)."""
    _cached.clear()


@receiver([post_save, post_delete], sender=Credential)
def _forget_on_change(**kwargs: Any) -> None:
    forget()


def site_endpoint() -> tuple[str, str]:
    """(base URL, key) of the site: the newest active stored one, else the environment's."""
    stored = _remember("site", lambda: Credential.objects.site().first())
    if stored is not None:
        return (stored.base_url or settings.AITRE_BASE_URL), stored.key
    return settings.AITRE_BASE_URL, settings.AITRE_API_KEY


def _personal(user: "User") -> Credential | None:
    personal = _remember(("personal", user.pk), lambda: Credential.objects.personal(user).first())
    return personal if personal is not None and personal.key else None


def endpoint_for(user: "User") -> tuple[str, str]:
    base_url, key = site_endpoint()
    personal = _personal(user)
    if personal is not None:
        key = personal.key
    return base_url, key


def uses_personal_key(user: "User") -> bool:
    return _personal(user) is not None


def client_for(user: "User | None", endpoint: tuple[str, str] | None = None) -> AitreClient:
    """A client with ``user``'s key (their own, or the site's); with no user, the site's."""
    base_url, key = endpoint or (endpoint_for(user) if user is not None else site_endpoint())
    return AitreClient(
        base_url,
        key,
        connect_timeout=settings.AITRE_CONNECT_TIMEOUT,
        read_timeout=settings.AITRE_READ_TIMEOUT,
        stream_idle_timeout=settings.AITRE_STREAM_IDLE_TIMEOUT,
        stream_read_interval=settings.AITRE_STREAM_READ_INTERVAL,
        session=shared_session(),
    )
