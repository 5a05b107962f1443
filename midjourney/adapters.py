"""
What the site's seams ask of Midjourney, registered in MidjourneyConfig.ready:
its tasks in flight for a quota check, the task behind a picture for the
library, and the owner's latest tasks for the job centre.
"""

import logging
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from files.models import StoredFile
from jobs.registry import Job
from usage.quotas import InFlight

from .models import MidjourneyTask
from .submitting import charged_as, settle_lost

logger = logging.getLogger(__name__)

Status = MidjourneyTask.Status
Action = MidjourneyTask.Action


def in_flight(user_id: int) -> list[InFlight]:
    """Submits on their way count as one task each against the quota (registered in MidjourneyConfig.ready)."""
    submitting = MidjourneyTask.objects.filter(owner_id=user_id, status=Status.SUBMITTING).values_list(
        "action", "bot_type"
    )
    return [charged_as(action, bot_type) for action, bot_type in submitting]


def origin_links(files: list[StoredFile]) -> dict[Any, tuple[str, str]]:
    """The task behind each picture (registered with files.sources); no query: the id is enough."""
    label = str(_("Midjourney"))
    return {f.pk: (reverse("midjourney:task", args=[f.origin_id]), label) for f in files if f.origin_id}


def _job_title(task: MidjourneyTask) -> str:
    words = " ".join(task.prompt.split())
    return f"{task.title}: {words[:80]}" if words else task.title


def recent_jobs(user: User, limit: int) -> list[Job]:
    """The owner's latest tasks for the job centre (registered in MidjourneyConfig.ready)."""
    tasks = list(MidjourneyTask.objects.for_user(user)[:limit])
    if any(task.is_stale for task in tasks):
        # Settled only when one is shown: the job centre asks every second or two.
        settle_lost(MidjourneyTask.objects.for_user(user))
        tasks = list(MidjourneyTask.objects.for_user(user)[:limit])
    jobs = []
    for task in tasks:
        jobs.append(
            Job(
                key=f"mj-{task.pk}",
                kind=str(_("Midjourney")),
                title=_job_title(task),
                status=task.get_status_display(),
                running=task.is_running,
                waiting=task.waits_for_modal,
                failed=task.can_retry,
                progress=task.progress if task.is_running else None,
                url=task.get_absolute_url(),
                started_at=task.created_at,
                finished_at=task.finished_at,
                detail=task.error or (_("stalled: asking the gateway again") if task.is_stalled else ""),
            )
        )
    return jobs
