"""
The sweep (``manage.py worker`` runs it every WORKER_SWEEP_SECONDS): lost
submits settled, tasks whose worker died mid-poll handed over, and previews
no task shows any more deleted.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from files.models import StoredFile

from .models import MidjourneyTask
from .polling import bring_forward
from .submitting import settle_lost

logger = logging.getLogger(__name__)

Status = MidjourneyTask.Status
Action = MidjourneyTask.Action


def sweep() -> tuple[int, int]:
    """
    Lost submits settled as unknown; tasks overdue for a fetch whose lease has
    lapsed (their worker died) fetched now. Returns how many of each.
    """
    lost = settle_lost(MidjourneyTask.objects.all())
    now = timezone.now()
    overdue = (
        MidjourneyTask.objects.followed()
        .filter(next_poll_at__lt=now - timedelta(seconds=max(5.0, settings.MIDJOURNEY_POLL_SECONDS * 3)))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", flat=True)
    )
    resumed = sum(1 for pk in list(overdue[:500]) if bring_forward(pk))
    return lost, resumed


def discard_old_previews() -> int:
    """
    Previews no task shows any more, replaced longer than MIDJOURNEY_PREVIEW_SECONDS
    ago (registered as a sweep of its own). Returns how many went.
    """
    before = timezone.now() - timedelta(seconds=settings.MIDJOURNEY_PREVIEW_SECONDS)
    shown = MidjourneyTask.objects.filter(preview__isnull=False).values("preview_id")
    return (
        StoredFile.objects.previews_of_midjourney()
        .filter(created_at__lt=before)
        .exclude(pk__in=shown)
        .delete_with_blobs()
    )
