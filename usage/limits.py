"""
The per-user send rate: how many replies one person may start per minute
(CHAT_SENDS_PER_MINUTE), counted in the cache in minute windows. A flood of
sends, scripted or stuck, is answered 429 before it costs a call.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from accounts.models import User

from .refusal import Refused


class TooFast(Refused):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            _("You are sending messages too fast. Wait %(seconds)d seconds and send again; your text is kept.")
            % {"seconds": retry_after},
            retry_after=retry_after,
        )


def count_send(user: User | int) -> None:
    """Count one send by ``user`` (a user or their id); raise TooFast past the limit."""
    limit = settings.CHAT_SENDS_PER_MINUTE
    if not limit:
        return
    now = time.time()
    window = int(now // 60)
    key = f"sends:{getattr(user, 'pk', user)}:{window}"
    cache.add(key, 0, 120)
    if cache.incr(key) > limit:
        raise TooFast(retry_after=max(1, 60 - int(now % 60)))
