"""
Polling: following a submitted task to its end in the worker, keeping what
it made and refunding what failed.

Polling is a chain of ``poll`` jobs run by the worker (Django's tasks
framework): each fetches once, writes what changed and queues the next at
the cadence of §11 (or later, when callbacks come). Each job carries the
row's ``poll_round``; a job of an older round does nothing, so there is one
chain per task however many hints arrive. Callbacks (with ``SITE_URL`` set,
submits carry a ``notifyHook`` with the task's own token) only bring the
next fetch forward (``bring_forward``): they are unsigned.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aitre.client import AitreError, FetchedTask
from aitre.credentials import client_for, endpoint_for
from files import downloads, policy, store
from files.images import BadImage
from files.models import StoredFile, StoredFileQuerySet
from usage import metering

from .models import KEPT_LONG_SIDE, MidjourneyTask

logger = logging.getLogger(__name__)

Status = MidjourneyTask.Status
Action = MidjourneyTask.Action

# Fetches in a row the gateway answers "not found" before the task is given up.
NOT_FOUND_LIMIT = 3
# Previews are named so, and are not among a grid's parts.
PREVIEW_NAME = StoredFileQuerySet.MIDJOURNEY_PREVIEW
# Times a finished task's picture is fetched again (each time with a fresh link) before it is given up.
DOWNLOAD_LIMIT = 4
FETCH_BACKOFF_CAP = 60.0


@task()
def poll(task_pk: int, poll_round: int) -> None:
    """
    The worker's job: one fetch of a Midjourney task. A chain of these
    follows each task; the next is queued by the fetch itself.
    """
    fetch(task_pk, poll_round)


def first_delay() -> float:
    # §11: "first fetch ~2 s after submit", with the default base of 3 s.
    return float(settings.MIDJOURNEY_POLL_SECONDS) * 2 / 3


def next_delay(task: MidjourneyTask, now: datetime | None = None) -> float:
    """§11's cadence: every 3 s while waiting, 3–5 s while rendering, 10 s after two minutes; slower with callbacks."""
    base = float(settings.MIDJOURNEY_POLL_SECONDS)
    if task.age_since_accepted(now) > 120:
        delay = base * 10 / 3
    elif task.status == Status.IN_PROGRESS:
        delay = base * 4 / 3
    else:
        delay = base
    if task.stalled_at is not None:
        delay = base
    if settings.SITE_URL:
        # Callbacks bring the fetch forward; this is only the safety net.
        delay *= 3
    return delay


def queue_poll(task: MidjourneyTask) -> None:
    """Queue the fetch for the task's current round, once the row saying so is committed."""
    pk, round_, due = task.pk, task.poll_round, task.next_poll_at

    def enqueue() -> None:
        poll.using(run_after=due).enqueue(pk, round_)

    transaction.on_commit(enqueue)


def bring_forward(task_pk: int, *, unless_due_within: float = 0.0) -> bool:
    """
    Fetch the task now, in place of its next scheduled fetch (a callback, a
    look-up, the sweep); not when that fetch is due within ``unless_due_within``
    seconds anyway (a gateway may call back at every percent).
    """
    with transaction.atomic():
        task = MidjourneyTask.objects.select_for_update().filter(pk=task_pk).followed().first()
        if task is None:
            return False
        soon = timezone.now() + timedelta(seconds=unless_due_within)
        if unless_due_within and task.next_poll_at is not None and task.next_poll_at <= soon:
            return False
        task.poll_round += 1
        task.next_poll_at = timezone.now()
        task.save(update_fields=["poll_round", "next_poll_at"])
        queue_poll(task)
    return True


def _claim(task_pk: int, round_: int) -> MidjourneyTask | None:
    """The task, leased to this worker, if this round is still the live one and no one else is asking."""
    now = timezone.now()
    claimed = (
        MidjourneyTask.objects.followed()
        .filter(pk=task_pk, poll_round=round_)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + timedelta(seconds=settings.MIDJOURNEY_LEASE_SECONDS), polls=F("polls") + 1)
    )
    return MidjourneyTask.objects.select_related("owner", "charge").get(pk=task_pk) if claimed else None


def _held_by_another(task_pk: int, round_: int) -> bool:
    """This round is the live one, but an older fetch still holds the task (it will let go, its round gone)."""
    return (
        MidjourneyTask.objects.followed()
        .filter(pk=task_pk, poll_round=round_, lease_until__gte=timezone.now())
        .exists()
    )


def fetch(task_pk: int, round_: int) -> None:
    """One fetch of a task, its outcome written, and the next fetch queued unless it ended."""
    task = _claim(task_pk, round_)
    if task is None:
        if _held_by_another(task_pk, round_):
            # Brought forward while a fetch was under way: come back once that one has let go.
            later = timezone.now() + timedelta(seconds=min(1.0, float(settings.MIDJOURNEY_POLL_SECONDS)))
            poll.using(run_after=later).enqueue(task_pk, round_)
        return
    try:
        fetched = client_for(task.owner).mj_fetch(task.upstream_id)
    except AitreError as exc:
        logger.warning("Midjourney fetch of task %s failed: %s (%s)", task.pk, exc.message, exc.detail)
        _fetch_failed(task, exc)
        return
    if fetched is None:
        _not_found(task)
    elif fetched.status == "SUCCESS":
        _succeeded(task, fetched)
    elif fetched.status in ("FAILURE", "CANCEL"):
        reason = fetched.fail_reason or (_("cancelled") if fetched.status == "CANCEL" else _("no reason given"))
        _fail(
            task,
            _("Midjourney could not finish this task: %(reason)s") % {"reason": reason},
            status=Status.CANCEL if fetched.status == "CANCEL" else Status.FAILURE,
            fetched=fetched,
        )
    elif fetched.status == "MODAL":
        _write(task, fetched, status=Status.MODAL)
    else:
        _moving(task, fetched)


def _release(task: MidjourneyTask, *, _delay: float | None = None, **fields: Any) -> bool:
    """
    Write the outcome of this fetch and let the lease go, unless the task was
    settled meanwhile; queue the next fetch (after ``_delay``, else at the
    cadence) unless it ended or waits for input. A failure is refunded here.
    """
    new_files = [fields[name] for name in ("image", "preview") if fields.get(name) is not None]
    with transaction.atomic():
        locked = MidjourneyTask.objects.select_for_update().filter(pk=task.pk).first()
        if locked is None or locked.is_ended or locked.poll_round != task.poll_round:
            MidjourneyTask.objects.filter(pk=task.pk).update(lease_until=None)
            _discard(new_files)
            return False
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.lease_until = None
        finished = locked.status in MidjourneyTask.ENDED
        if finished:
            # A preview is only for watching the task move.
            locked.preview = None
        # A replaced preview is not deleted here: the page following the task was just sent its
        # address and may be loading it (deleted at once, it was a 404 before the result showed).
        # The sweep deletes it after MIDJOURNEY_PREVIEW_SECONDS (discard_old_previews).
        ended = finished or locked.status == Status.MODAL
        if ended:
            locked.next_poll_at = None
            locked.finished_at = locked.finished_at or (timezone.now() if finished else None)
        else:
            locked.poll_round += 1
            locked.next_poll_at = timezone.now() + timedelta(seconds=_delay or next_delay(locked))
        if finished and locked.status != Status.SUCCESS:
            refund(locked)
        locked.save()
        if not ended:
            queue_poll(locked)
    return True


def _discard(files: list[StoredFile]) -> None:
    """Kept files no task points at (a replaced preview, a result whose task was settled meanwhile)."""
    StoredFile.objects.filter(pk__in=[f.pk for f in files]).delete_with_blobs()


def refund(task: MidjourneyTask) -> None:
    """A task that ended without a result is not paid for."""
    if task.charge_id and not task.refunded:
        assert task.charge is not None
        metering.refund(task.charge)
        task.refunded = True


def _gateway_fields(fetched: FetchedTask) -> dict[str, Any]:
    return {
        "upstream_action": fetched.action[:32],
        "description": fetched.description,
        "final_prompt": str(fetched.properties.get("finalPrompt") or fetched.prompt_en or ""),
        "fail_reason": fetched.fail_reason,
        "properties": fetched.properties,
        "buttons": [
            {"customId": b.custom_id, "label": b.label, "emoji": b.emoji, "style": b.style} for b in fetched.buttons
        ],
        "fetch_errors": 0,
        "not_found": 0,
    }


def _write(task: MidjourneyTask, fetched: FetchedTask, **fields: Any) -> None:
    _release(task, **_gateway_fields(fetched), **fields)


def _fail(
    task: MidjourneyTask, message: str, *, status: str = Status.FAILURE, fetched: FetchedTask | None = None
) -> None:
    fields = _gateway_fields(fetched) if fetched is not None else {}
    _release(task, **fields, status=status, error=message, queue_position=None)


def _fetch_failed(task: MidjourneyTask, exc: AitreError) -> None:
    """The gateway did not answer the fetch: ask again later, backing off; the task is given up only by its age."""
    if _too_old(task):
        return
    errors = task.fetch_errors + 1
    delay = exc.retry_after or min(FETCH_BACKOFF_CAP, settings.MIDJOURNEY_POLL_SECONDS * 2**errors)
    _release(task, fetch_errors=errors, _delay=delay)


def _not_found(task: MidjourneyTask) -> None:
    misses = task.not_found + 1
    if misses >= NOT_FOUND_LIMIT:
        _fail(task, _("The gateway no longer knows this task: it was not found, or has expired."))
    else:
        _release(task, not_found=misses, _delay=settings.MIDJOURNEY_POLL_SECONDS)


def _span(seconds: float) -> str:
    """A length of time in words: "1 minute", "5 minutes", "40 seconds" (never "0 minutes")."""
    if seconds < 60:
        count = max(1, round(seconds))
        return ngettext("%(count)d second", "%(count)d seconds", count) % {"count": count}
    count = round(seconds / 60)
    return ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}


def _too_old(task: MidjourneyTask) -> bool:
    if task.age_since_accepted() <= settings.MIDJOURNEY_GIVE_UP_SECONDS:
        return False
    _fail(
        task,
        _("The task did not finish within %(span)s, and was given up.")
        % {"span": _span(settings.MIDJOURNEY_GIVE_UP_SECONDS)},
    )
    return True


def _moving(task: MidjourneyTask, fetched: FetchedTask) -> None:
    """Not started, queued or rendering: progress written, a new preview kept, a stall noticed."""
    if _too_old(task):
        return
    now = timezone.now()
    status = {"NOT_START": Status.NOT_START, "SUBMITTED": Status.SUBMITTED}.get(fetched.status, Status.IN_PROGRESS)
    fields: dict[str, Any] = {"status": status, "progress": fetched.progress}
    if status == Status.IN_PROGRESS:
        fields["queue_position"] = None
    moved = fetched.progress != task.progress or status != task.status
    if moved:
        fields.update(progress_at=now, stalled_at=None)
    else:
        since = task.progress_at or task.submitted_at or task.created_at
        still = (now - since).total_seconds()
        if still > settings.MIDJOURNEY_STALL_SECONDS:
            if task.stalled_at is None:
                fields["stalled_at"] = now
            elif (now - task.stalled_at).total_seconds() > settings.MIDJOURNEY_STALL_SECONDS:
                _fail(
                    task,
                    _("The task made no progress for %(span)s (stuck at %(progress)s%%), and was given up.")
                    % {"span": _span(still), "progress": task.progress},
                    fetched=fetched,
                )
                return
    if fetched.image_url and fetched.image_url != task.preview_url and status == Status.IN_PROGRESS:
        preview = _keep_preview(task, fetched.image_url)
        if preview is not None:
            fields.update(preview=preview, preview_url=fetched.image_url)
    _write(task, fetched, **fields)


def _succeeded(task: MidjourneyTask, fetched: FetchedTask) -> None:
    """Done: keep the picture now (its link expires), or for describe and shorten, the prompts."""
    fields: dict[str, Any] = {"status": Status.SUCCESS, "progress": 100, "queue_position": None, "stalled_at": None}
    if fetched.image_url and task.action not in (Action.DESCRIBE, Action.SHORTEN):
        try:
            kept = _download(task, fetched.image_url)
        except downloads.DownloadRefused as exc:
            _download_failed(task, fetched, str(exc))
            return
        except BadImage as exc:
            _download_failed(task, fetched, exc.reason)
            return
        fields["image"] = kept
    elif task.action not in (Action.DESCRIBE, Action.SHORTEN):
        _download_failed(task, fetched, _("the gateway gave no picture"))
        return
    _release(task, **_gateway_fields(fetched), **fields)


def _download_failed(task: MidjourneyTask, fetched: FetchedTask, reason: str) -> None:
    """A finished task whose picture could not be fetched: fetch the task again (a fresh link), a few times."""
    attempts = task.download_attempts + 1
    if attempts >= DOWNLOAD_LIMIT:
        _fail(task, _("The finished picture could not be downloaded: %(reason)s") % {"reason": reason}, fetched=fetched)
    else:
        _write(task, fetched, download_attempts=attempts, progress=100, _delay=settings.MIDJOURNEY_POLL_SECONDS / 3)


def _fetch_bytes(task: MidjourneyTask, url: str) -> bytes:
    api_origin, _key = endpoint_for(task.owner)
    return downloads.fetch(
        url, max_bytes=max(policy.current().max_upload_bytes, 32 * 1024 * 1024), trusted_origin=api_origin
    )


def _download(task: MidjourneyTask, url: str, name: str = "") -> StoredFile:
    checked = store.check_image(_fetch_bytes(task, url), "midjourney", max_long_side=KEPT_LONG_SIDE)
    return store.keep_image(
        task.owner_id,
        checked,
        name or f"midjourney-{task.upstream_id or task.pk}",
        StoredFile.Source.MIDJOURNEY,
        model="midjourney",
        prompt=task.prompt,
        origin_id=task.pk,
    )


def _keep_preview(task: MidjourneyTask, url: str) -> StoredFile | None:
    """A preview, kept as the owner's file until the result replaces it; None when it cannot be had."""
    try:
        return _download(task, url, name=f"{PREVIEW_NAME}-{task.upstream_id or task.pk}")
    except (downloads.DownloadRefused, BadImage) as exc:
        logger.info("Preview of Midjourney task %s not kept: %s", task.pk, exc)
        return None


def refresh(task_pk: int) -> None:
    """Ask the gateway now, in the request (a look-up): the fetch the worker would have made next, made here."""
    if bring_forward(task_pk):
        task = MidjourneyTask.objects.get(pk=task_pk)
        fetch(task.pk, task.poll_round)
