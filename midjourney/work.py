"""
The Midjourney work: submit a task, then follow it to its end in the worker,
keep what it made, and settle what it cost.

- **Submit** runs in the request (one call of at most 30 s), inside the
  metering seam: admitted first, charged (per task, by action: the price of
  model ``mj_<action>``, else ``midjourney``) only once the gateway accepted
  it, refunded if it ends in failure. A submit whose answer was lost is
  ``unknown``, with Retry, and never sent again by itself: it may be running,
  and paid for.
- **Polling** is a chain of ``midjourney.tasks.poll`` jobs run by the worker
  (Django's tasks framework): each fetches once, writes what changed and
  queues the next at the cadence of §11 (or later, when callbacks come). Each
  job carries the row's ``poll_round``; a job of an older round does nothing,
  so there is one chain per task however many hints arrive.
- **Callbacks** (with ``SITE_URL`` set, submits carry a ``notifyHook`` with the
  task's own token) only bring the next fetch forward: they are unsigned.
- **The sweep** (``manage.py worker`` runs it every WORKER_SWEEP_SECONDS)
  settles lost submits and hands over tasks whose worker died mid-poll.
"""

import base64
import io
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from PIL import Image

from aitre.client import AitreError, FetchedTask, Submitted
from aitre.client.midjourney import Code
from aitre.credentials import client_for, endpoint_for
from files import downloads, policy, store
from files.images import BadImage
from files.models import StoredFile, StoredFileQuerySet
from jobs.registry import Job
from usage import metering
from usage.quotas import InFlight

from . import actions
from .models import MidjourneyTask

logger = logging.getLogger(__name__)

Status = MidjourneyTask.Status
Action = MidjourneyTask.Action

# Results are kept at full size (a 2048 px grid), up to this.
KEPT_LONG_SIDE = 4096
# Fetches in a row the gateway answers "not found" before the task is given up.
NOT_FOUND_LIMIT = 3
# Previews are named so, and are not among a grid's parts.
PREVIEW_NAME = StoredFileQuerySet.MIDJOURNEY_PREVIEW
# Times a finished task's picture is fetched again (each time with a fresh link) before it is given up.
DOWNLOAD_LIMIT = 4
FETCH_BACKOFF_CAP = 60.0

_REFUSALS = {
    Code.QUEUE_FULL: lambda d, p: _("The Midjourney queue is full. Try again in a few minutes."),
    Code.BANNED: lambda d, p: (
        _("Midjourney refused the prompt: it contains a banned word (%(word)s).")
        % {"word": p.get("bannedWord") or _("not named")}
    ),
    Code.NOT_FOUND: lambda d, p: (
        _("The task this needs was not found, or has expired: %(reason)s") % {"reason": d or _("no reason given")}
    ),
    Code.INVALID: lambda d, p: _("Midjourney could not accept this: %(reason)s") % {"reason": d or _("invalid input")},
}


def _refusal(answer: Submitted) -> str:
    """What the gateway refused, in words (the code's meaning, with its own words where they help)."""
    reason = _REFUSALS.get(answer.code)
    if reason is not None:
        return str(reason(answer.description, answer.properties))
    return _("Midjourney refused this (code %(code)s): %(reason)s") % {
        "code": answer.code,
        "reason": answer.description or _("no reason given"),
    }


def price_model(action: str) -> str:
    return f"mj_{action}"


def _charged_as(action: str, bot_type: str) -> InFlight:
    """One task of ``action`` as it is charged: priced as ``mj_<action>``, else ``midjourney``; Niji its variant."""
    variant = "niji" if bot_type == MidjourneyTask.Bot.NIJI else ""
    return InFlight(model=price_model(action), priced_as=("midjourney",), units=Decimal(1), variant=variant)


# --- submitting ------------------------------------------------------------------


def start(
    owner: Any,
    action: str,
    *,
    prompt: str = "",
    bot_type: str = MidjourneyTask.Bot.MIDJOURNEY,
    inputs: Iterable[StoredFile] = (),
    params: dict[str, Any] | None = None,
    parent: MidjourneyTask | None = None,
    custom_id: str = "",
    button_label: str = "",
) -> MidjourneyTask:
    """Admitted by the metering seam at the task's price (raises usage.metering.Refused), then submitted."""
    with transaction.atomic():
        metering.admit(owner, call=_charged_as(action, bot_type))
        task = MidjourneyTask.objects.create(
            owner=owner,
            action=action,
            prompt=prompt,
            bot_type=bot_type,
            inputs=[str(stored.pk) for stored in inputs],
            params=params or {},
            parent=parent,
            custom_id=custom_id,
            button_label=button_label,
        )
    submit(task)
    return task


def press(parent: MidjourneyTask, custom_id: str) -> MidjourneyTask:
    """Press one of ``parent``'s own buttons: a new task, linked to it."""
    button = next(b for b in parent.buttons if b.get("customId") == custom_id)
    label = str(button.get("label") or button.get("emoji") or "")
    return start(
        parent.owner,
        actions.action_of(custom_id),
        prompt=parent.prompt,
        bot_type=parent.bot_type,
        parent=parent,
        custom_id=custom_id,
        button_label=label,
    )


def retry(task: MidjourneyTask) -> MidjourneyTask:
    """The same request as a new task (the failed or unknown one stays as it was)."""
    inputs = StoredFile.objects.for_user(task.owner).by_ids(task.inputs) or []
    return start(
        task.owner,
        task.action,
        prompt=task.prompt,
        bot_type=task.bot_type,
        inputs=inputs,
        params=task.params,
        parent=task.parent,
        custom_id=task.custom_id,
        button_label=task.button_label,
    )


def _data_uri(stored: StoredFile) -> str:
    with stored.blob.open("rb") as handle:
        data = handle.read()
    return f"data:{stored.content_type};base64,{base64.b64encode(data).decode()}"


def _body(task: MidjourneyTask) -> tuple[str, dict[str, Any]]:
    """The endpoint and body of a task's submit (§10.2–10.7)."""
    images = [_data_uri(stored) for stored in (StoredFile.objects.by_ids(task.inputs) or [])]
    body: dict[str, Any] = {"state": str(task.pk)}
    if settings.SITE_URL:
        body["notifyHook"] = settings.SITE_URL + reverse("midjourney:hook", args=[task.notify_token])
    if task.custom_id:
        assert task.parent is not None
        return "action", {**body, "customId": task.custom_id, "taskId": task.parent.upstream_id}
    if task.action == Action.BLEND:
        body.update(botType=task.bot_type, base64Array=images)
        if task.params.get("dimensions"):
            body["dimensions"] = task.params["dimensions"]
        return "blend", body
    if task.action == Action.DESCRIBE:
        return "describe", {**body, "botType": task.bot_type, "base64": images[0] if images else ""}
    if task.action == Action.SHORTEN:
        return "shorten", {**body, "botType": task.bot_type, "prompt": task.prompt}
    body.update(botType=task.bot_type, prompt=task.prompt)
    if images:
        body["base64Array"] = images
    return "imagine", body


def submit(task: MidjourneyTask) -> MidjourneyTask:
    """Send the submit and write its outcome. Never raises for the gateway's failures."""
    endpoint, body = _body(task)
    try:
        answer = client_for(task.owner).mj_submit(endpoint, body)
    except AitreError as exc:
        logger.warning("Midjourney submit of task %s failed: %s (%s)", task.pk, exc.message, exc.detail)
        if exc.unanswered:
            _end_submit(task, Status.UNKNOWN, _lost_answer())
        else:
            _end_submit(task, Status.FAILURE, exc.message)
        return task
    except Exception:
        logger.exception("Midjourney submit of task %s failed unexpectedly", task.pk)
        _end_submit(task, Status.UNKNOWN, _lost_answer())
        return task
    _accept(task, answer, charge_as=task.action)
    return task


def submit_modal(task: MidjourneyTask, prompt: str, mask: str = "") -> MidjourneyTask:
    """Finish a task that waits for input (§10.4): its prompt, and for a region its mask (a PNG data URI)."""
    body: dict[str, Any] = {"taskId": task.upstream_id, "prompt": prompt}
    if mask:
        body["maskBase64"] = mask
    with transaction.atomic():
        metering.admit(task.owner, call=_charged_as(_modal_charge(task), task.bot_type))
        claimed = MidjourneyTask.objects.filter(pk=task.pk, status=Status.MODAL).update(
            status=Status.SUBMITTING, prompt=prompt, params={**task.params, "mask": bool(mask)}
        )
    if not claimed:
        return task
    task.refresh_from_db()
    try:
        answer = client_for(task.owner).mj_submit("modal", body)
    except AitreError as exc:
        logger.warning("Midjourney modal of task %s failed: %s (%s)", task.pk, exc.message, exc.detail)
        if exc.unanswered:
            _end_submit(task, Status.UNKNOWN, _lost_answer())
        else:
            # The window is still open upstream: the person may try again.
            MidjourneyTask.objects.filter(pk=task.pk).update(status=Status.MODAL, error=exc.message)
            task.refresh_from_db()
        return task
    if not answer.accepted:
        # Refused (a bad mask, say): the window is still open upstream, for another try.
        MidjourneyTask.objects.filter(pk=task.pk, status=Status.SUBMITTING).update(
            status=Status.MODAL, error=_refusal(answer)
        )
        task.refresh_from_db()
        return task
    _accept(task, answer, charge_as=_modal_charge(task))
    return task


def _lost_answer() -> str:
    return _(
        "The gateway's answer was lost: this task may have started, and may be charged by the gateway. "
        "Retry submits it again; look it up by its id first if you have one."
    )


def _end_submit(task: MidjourneyTask, status: str, error: str, **fields: Any) -> None:
    MidjourneyTask.objects.filter(pk=task.pk, status=Status.SUBMITTING).update(
        status=status, error=error, finished_at=timezone.now(), **fields
    )
    task.refresh_from_db()


def _waits_for_window(answer: Submitted) -> bool:
    words = answer.description.lower()
    return bool(answer.properties.get("remix")) or any(w in words for w in ("window", "modal", "confirm"))


def _modal_charge(task: MidjourneyTask) -> str:
    """A window's submit is charged as the task's own action where it is priced so, else as a modal."""
    return task.action if task.action in (Action.MODAL, Action.ZOOM) else Action.MODAL


def _accept(task: MidjourneyTask, answer: Submitted, *, charge_as: str) -> None:
    """Write what the gateway said to a submit; charge what it accepted, in the same transaction."""
    now = timezone.now()
    if not answer.accepted:
        # What the gateway said is kept: a banned word is the prompt's fault, which Retry cannot mend.
        properties = {**task.properties, **answer.properties, "refusedCode": answer.code}
        _end_submit(task, Status.FAILURE, _refusal(answer), properties=properties)
        return
    modal = answer.code == Code.MODAL and _waits_for_window(answer)
    # Code 21 without a window: "already done", the existing task's id, nothing new to pay for.
    charged = answer.code != Code.MODAL
    variant = "niji" if task.bot_type == MidjourneyTask.Bot.NIJI else ""
    price = metering.price_for(price_model(charge_as), "midjourney", variant=variant)
    with transaction.atomic():
        locked = MidjourneyTask.objects.select_for_update().filter(pk=task.pk, status=Status.SUBMITTING).first()
        if locked is None:
            return
        locked.upstream_id = answer.task_id
        locked.description = answer.description
        locked.submitted_at = locked.submitted_at or now
        locked.progress_at = now
        locked.error = ""
        locked.properties = {**locked.properties, **answer.properties}
        if answer.code == Code.QUEUED:
            queued = answer.properties.get("numberOfQueues")
            locked.queue_position = int(str(queued)) if str(queued).isdigit() else None
        if modal:
            locked.status = Status.MODAL
        else:
            locked.status = Status.SUBMITTED
            locked.poll_round += 1
            locked.next_poll_at = now + timedelta(seconds=_first_delay())
        if charged:
            locked.charge = metering.record(
                locked.owner_id,
                kind=metering.Kind.MIDJOURNEY,
                model=price_model(charge_as),
                priced_as=("midjourney",),
                subject=locked,
                units=1,
                variant=variant,
                price=price,
            )
        locked.save()
        if not modal:
            _queue_poll(locked)
    task.refresh_from_db()


# --- following -------------------------------------------------------------------


def _first_delay() -> float:
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


def _queue_poll(task: MidjourneyTask) -> None:
    """Queue the fetch for the task's current round, once the row saying so is committed."""
    from .tasks import poll

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
        _queue_poll(task)
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


def poll(task_pk: int, round_: int) -> None:
    """One fetch of a task, its outcome written, and the next fetch queued unless it ended."""
    task = _claim(task_pk, round_)
    if task is None:
        if _held_by_another(task_pk, round_):
            # Brought forward while a fetch was under way: come back once that one has let go.
            from .tasks import poll as poll_job

            later = timezone.now() + timedelta(seconds=min(1.0, float(settings.MIDJOURNEY_POLL_SECONDS)))
            poll_job.using(run_after=later).enqueue(task_pk, round_)
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
            _refund(locked)
        locked.save()
        if not ended:
            _queue_poll(locked)
    return True


def _discard(files: list[StoredFile]) -> None:
    """Kept files no task points at (a replaced preview, a result whose task was settled meanwhile)."""
    StoredFile.objects.filter(pk__in=[f.pk for f in files]).delete_with_blobs()


def _refund(task: MidjourneyTask) -> None:
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


# --- splitting a grid -----------------------------------------------------------


def split(task: MidjourneyTask) -> list[StoredFile]:
    """The grid's four pictures as the owner's own files (once: a second split gives the same four)."""
    existing = list(task.parts().order_by("name"))
    if existing or task.image is None:
        return existing
    with task.image.blob.open("rb") as handle:
        grid = Image.open(io.BytesIO(handle.read()))
        grid.load()
    width, height = grid.size
    half_w, half_h = width // 2, height // 2
    parts = []
    for index, (left, top) in enumerate([(0, 0), (half_w, 0), (0, half_h), (half_w, half_h)], start=1):
        out = io.BytesIO()
        grid.crop((left, top, left + half_w, top + half_h)).convert("RGB").save(out, "PNG")
        checked = store.check_image(out.getvalue(), f"part-{index}.png", max_long_side=KEPT_LONG_SIDE)
        parts.append(
            store.keep_image(
                task.owner_id,
                checked,
                f"midjourney-{task.upstream_id}-{index}",
                StoredFile.Source.MIDJOURNEY,
                model="midjourney",
                prompt=task.prompt,
                origin_id=task.pk,
            )
        )
    return parts


# --- the sweep, and what others ask --------------------------------------------


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


def settle_lost(tasks: Any) -> int:
    return int(tasks.lost_submits().update(status=Status.UNKNOWN, error=_lost_answer(), finished_at=timezone.now()))


def in_flight(user_id: int) -> list[InFlight]:
    """Submits on their way count as one task each against the quota (registered in MidjourneyConfig.ready)."""
    submitting = MidjourneyTask.objects.filter(owner_id=user_id, status=Status.SUBMITTING).values_list(
        "action", "bot_type"
    )
    return [_charged_as(action, bot_type) for action, bot_type in submitting]


def origin_links(files: list[StoredFile]) -> dict[Any, tuple[str, str]]:
    """The task behind each picture (registered with files.sources); no query: the id is enough."""
    label = str(_("Midjourney"))
    return {f.pk: (reverse("midjourney:task", args=[f.origin_id]), label) for f in files if f.origin_id}


def _job_title(task: MidjourneyTask) -> str:
    words = " ".join(task.prompt.split())
    return f"{task.title}: {words[:80]}" if words else task.title


def recent_jobs(user: Any, limit: int) -> list[Job]:
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


def refresh(task_pk: int) -> None:
    """Ask the gateway now, in the request (a look-up): the fetch the worker would have made next, made here."""
    if bring_forward(task_pk):
        task = MidjourneyTask.objects.get(pk=task_pk)
        poll(task.pk, task.poll_round)
