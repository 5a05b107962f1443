"""
Login throttling: after too many failed attempts on one account, or from one
address, logging in is refused for a lock-out period, with a message that
says how long. Counters live in the cache: shared by every process with
REDIS_URL, per process without it (one process's worth of attempts, then).
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import ngettext


def client_address(request: HttpRequest | None) -> str:
    """
    Where the request came from. Behind TRUSTED_PROXIES proxies (a PaaS
    router is one), the address the outermost trusted proxy saw: the
    entries before it in X-Forwarded-For are whatever the client wrote.
    """
    if request is None:
        return "unknown"
    hops = settings.TRUSTED_PROXIES
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return str(forwarded[-hops])
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def _digest(value: str) -> str:
    # Usernames as typed may hold anything; cache keys may not.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(self, request: HttpRequest | None, username: str) -> None:
        self.counters = [
            (f"login-failures:account:{_digest(username.strip().lower())}", settings.LOGIN_FAILURES_PER_ACCOUNT),
            (f"login-failures:address:{_digest(client_address(request))}", settings.LOGIN_FAILURES_PER_ADDRESS),
        ]

    def locked_seconds(self) -> int:
        """Seconds until logging in is allowed again here; 0 when it is."""
        now = time.time()
        until = max((cache.get(f"{key}:locked", 0) for key, _ in self.counters), default=0)
        return max(0, math.ceil(until - now))

    def failed(self) -> None:
        lockout = settings.LOGIN_LOCKOUT_SECONDS
        for key, limit in self.counters:
            cache.add(key, 0, lockout)
            count = cache.incr(key)
            if count >= limit:
                cache.set(f"{key}:locked", time.time() + lockout, lockout)

    def succeeded(self) -> None:
        """A correct password clears the account's count (not the address's: others may share it)."""
        cache.delete(self.counters[0][0])


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed attempts to log in. Try again in %(minutes)d minute.",
        "Too many failed attempts to log in. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
