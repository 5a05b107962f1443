"""
Submitting a Midjourney task, in the request (one call of at most 30 s),
inside the metering seam: admitted first, charged (per task, by action: the
price of model ``mj_<action>``, else ``midjourney``) only once the gateway
accepted it, refunded by polling if it ends in failure. A submit whose
answer was lost is ``unknown``, with Retry, and never sent again by itself:
it may be running, and paid for (``settle_lost``).
"""

import base64
import logging
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from aitre.client import AitreError, Submitted
from aitre.client.midjourney import Code
from aitre.credentials import client_for
from files.models import StoredFile
from usage import metering
from usage.quotas import InFlight

from . import actions
from .models import MidjourneyTask
from .polling import first_delay, queue_poll

logger = logging.getLogger(__name__)

Status = MidjourneyTask.Status
Action = MidjourneyTask.Action

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


def charged_as(action: str, bot_type: str) -> InFlight:
    """One task of ``action`` as it is charged: priced as ``mj_<action>``, else ``midjourney``; Niji its variant."""
    variant = "niji" if bot_type == MidjourneyTask.Bot.NIJI else ""
    return InFlight(model=price_model(action), priced_as=("midjourney",), units=Decimal(1), variant=variant)


def start(
    owner: User,
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
        metering.admit(owner, call=charged_as(action, bot_type))
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
        metering.admit(task.owner, call=charged_as(_modal_charge(task), task.bot_type))
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
            locked.next_poll_at = now + timedelta(seconds=first_delay())
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
            queue_poll(locked)
    task.refresh_from_db()


def settle_lost(tasks: Any) -> int:
    return int(tasks.lost_submits().update(status=Status.UNKNOWN, error=_lost_answer(), finished_at=timezone.now()))
