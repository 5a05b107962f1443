"""
A settings row the admin edits rarely and every request may read (upload
limits, voice defaults): read once every few seconds per process, forgotten
at once in this process when it is saved or deleted; other processes see a
change within ``SECONDS``.
"""

import time
from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_save

SECONDS = 5.0


class RememberedRow[M: models.Model]:
    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._remembered: list[tuple[float, M]] = []
        # Weak references would drop this bound method at once: it is kept strongly, with a uid.
        for signal in (post_save, post_delete):
            signal.connect(self._forget_on_change, sender=model, weak=False, dispatch_uid=f"remembered-{model}")

    def current(self) -> M:
        """The admin's row, or one with the defaults until it is saved."""
        now = time.monotonic()
        if self._remembered and now - self._remembered[0][0] < SECONDS:
            return self._remembered[0][1]
        row = self.model._default_manager.order_by("pk").first() or self.model()
        self._remembered[:] = [(now, row)]
        return row

    def forget(self) -> None:
        self._remembered.clear()

    def _forget_on_change(self, **kwargs: Any) -> None:
        self.forget()
