"""The upload limits in force: the admin's row, read once every few seconds per process."""

import time
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import UploadPolicy

POLICY_SECONDS = 5.0
_remembered: list[tuple[float, UploadPolicy]] = []


def current() -> UploadPolicy:
    now = time.monotonic()
    if _remembered and now - _remembered[0][0] < POLICY_SECONDS:
        return _remembered[0][1]
    policy = UploadPolicy.objects.order_by("pk").first() or UploadPolicy()
    _remembered[:] = [(now, policy)]
    return policy


def forget() -> None:
    _remembered.clear()


@receiver([post_save, post_delete], sender=UploadPolicy)
def _forget_on_change(**kwargs: Any) -> None:
    forget()
