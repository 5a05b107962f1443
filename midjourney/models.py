"""
One Midjourney task as the site knows it: what its owner asked for, the
gateway's task id once it was accepted, where it stands, what it made.

A task is followed by the worker (``midjourney.polling``), never by a
browser or one web process: every fact needed to go on polling after a
restart is in this row. ``poll_round`` names the one live chain of polls:
a poll job for an older round is a leftover and does nothing, so a callback
or a sweep can bring the next poll forward without starting a second chain.
``lease_until`` says a worker is asking for the task now; a worker killed
meanwhile lets it lapse, and the sweep hands the task to the next one.
"""

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from files.models import StoredFile, StoredFileQuerySet

from .actions import Action, name_of, needs_modal

# A submit takes at most the client's 30 s; a row still "submitting" well after
# that belongs to a process that died mid-call: its answer is lost.
SUBMIT_LOST_SECONDS = 60


def _notify_token() -> str:
    return secrets.token_urlsafe(32)


# The gateway's code for a prompt refused for a banned word (§10.1, aitre.client.midjourney.Code.BANNED).
BANNED_CODE = 24


# Results are kept at full size (a 2048 px grid), up to this.
KEPT_LONG_SIDE = 4096


class MidjourneyTaskQuerySet(models.QuerySet["MidjourneyTask"]):
    def for_user(self, user: User) -> "MidjourneyTaskQuerySet":
        return self.filter(owner=user)

    def followed(self) -> "MidjourneyTaskQuerySet":
        """Tasks the worker goes on asking the gateway about."""
        return self.filter(status__in=MidjourneyTask.FOLLOWED, upstream_id__gt="")

    def lost_submits(self) -> "MidjourneyTaskQuerySet":
        return self.filter(
            status=MidjourneyTask.Status.SUBMITTING,
            created_at__lt=timezone.now() - timedelta(seconds=SUBMIT_LOST_SECONDS),
        )


class MidjourneyTask(models.Model):
    Action = Action

    class Status(models.TextChoices):
        SUBMITTING = "submitting", _("submitting")
        # The submit may have been accepted (and charged): its answer was lost.
        UNKNOWN = "unknown", _("unknown")
        NOT_START = "not_start", _("waiting to start")
        SUBMITTED = "submitted", _("queued")
        IN_PROGRESS = "in_progress", _("in progress")
        MODAL = "modal", _("waiting for your input")
        SUCCESS = "success", _("done")
        FAILURE = "failure", _("failed")
        CANCEL = "cancel", _("cancelled")

    class Bot(models.TextChoices):
        MIDJOURNEY = "MID_JOURNEY", _("Midjourney")
        NIJI = "NIJI_JOURNEY", _("Niji")

    FOLLOWED = (Status.NOT_START, Status.SUBMITTED, Status.IN_PROGRESS)
    ENDED = (Status.UNKNOWN, Status.SUCCESS, Status.FAILURE, Status.CANCEL)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="midjourney_tasks")
    # The task whose button made this one: the lineage of an image.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children", verbose_name=_("made from")
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    button_label = models.CharField(_("button"), max_length=80, blank=True)
    custom_id = models.CharField(_("button id"), max_length=300, blank=True)
    bot_type = models.CharField(_("bot"), max_length=16, choices=Bot.choices, default=Bot.MIDJOURNEY)
    prompt = models.TextField(_("prompt"), blank=True)
    # The owner's files sent with the submit (reference, blend or describe images), by id.
    inputs = models.JSONField(_("input images"), default=list, blank=True)
    # The rest of what was submitted: blend dimensions; a modal's prompt and mask.
    params = models.JSONField(_("parameters"), default=dict, blank=True)

    upstream_id = models.CharField(_("task id"), max_length=40, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SUBMITTING)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    queue_position = models.PositiveIntegerField(_("place in the queue"), null=True, blank=True)
    # The gateway's own words about the task (its action, description, final prompt, buttons).
    upstream_action = models.CharField(_("gateway action"), max_length=32, blank=True)
    description = models.TextField(_("gateway description"), blank=True)
    final_prompt = models.TextField(_("final prompt"), blank=True)
    buttons = models.JSONField(_("buttons"), default=list, blank=True)
    properties = models.JSONField(_("gateway properties"), default=dict, blank=True)
    fail_reason = models.TextField(_("gateway's reason"), blank=True)
    # What the owner reads when it went wrong.
    error = models.TextField(_("error"), blank=True)

    image = models.ForeignKey(
        StoredFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("result")
    )
    preview = models.ForeignKey(
        StoredFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("preview")
    )
    preview_url = models.TextField(blank=True)
    # The charge for this task, refunded when it ends in failure.
    charge = models.ForeignKey(
        "usage.UsageRecord",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("charge"),
    )
    refunded = models.BooleanField(_("refunded"), default=False)

    notify_token = models.CharField(max_length=64, unique=True, default=_notify_token, editable=False)
    poll_round = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(_("next fetch"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveIntegerField(_("fetches"), default=0)
    fetch_errors = models.PositiveSmallIntegerField(default=0)
    not_found = models.PositiveSmallIntegerField(default=0)
    download_attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    submitted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    progress_at = models.DateTimeField(_("progress last moved"), null=True, blank=True)
    stalled_at = models.DateTimeField(_("marked stalled"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = MidjourneyTaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("Midjourney task")
        verbose_name_plural = _("Midjourney tasks")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "next_poll_at"], name="mj_task_status_poll_idx"),
        ]

    def __str__(self) -> str:
        # Never the prompt: this string shows in the admin.
        return str(_("Midjourney task #%(number)s")) % {"number": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("midjourney:task", args=[self.pk])

    def usage_label(self) -> str:
        """How its owner sees it on their Usage page (see usage.subjects)."""
        words = " ".join((self.prompt or self.button_label or self.get_action_display()).split())
        return str(_("Midjourney: %(words)s")) % {"words": words[:50] + ("…" if len(words) > 50 else "")}

    @property
    def title(self) -> str:
        """ "Upscale U2", "Reroll 🔄", or a long button's own words ("Vary (Region)")."""
        action = str(self.get_action_display())
        label = self.button_label
        if not label:
            return action
        return f"{action} {label}" if len(label) <= 3 else label

    # --- where it stands ---------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """Still moving by itself (the page follows it); a task waiting for a modal's input is not."""
        return self.status == self.Status.SUBMITTING or self.status in self.FOLLOWED

    @property
    def is_stale(self) -> bool:
        return self.status == self.Status.SUBMITTING and self.created_at < timezone.now() - timedelta(
            seconds=SUBMIT_LOST_SECONDS
        )

    @property
    def is_ended(self) -> bool:
        return self.status in self.ENDED

    @property
    def is_stalled(self) -> bool:
        return self.stalled_at is not None and self.is_running

    @property
    def prompt_refused(self) -> bool:
        """Refused for a word in its prompt: sending it again would be refused again; editing it is the way."""
        if self.status != self.Status.FAILURE:
            return False
        return self.properties.get("refusedCode") == BANNED_CODE or "banned" in self.fail_reason.lower()

    @property
    def can_retry(self) -> bool:
        return self.status in (self.Status.UNKNOWN, self.Status.FAILURE, self.Status.CANCEL) and not self.prompt_refused

    @property
    def waits_for_modal(self) -> bool:
        return self.status == self.Status.MODAL

    @property
    def succeeded(self) -> bool:
        return self.status == self.Status.SUCCESS

    @property
    def makes_text(self) -> bool:
        """Describe and shorten answer with prompts, not a picture."""
        return self.action in (self.Action.DESCRIBE, self.Action.SHORTEN)

    @property
    def is_grid(self) -> bool:
        """A four-picture grid (imagine, variations, reroll, blend), which can be split into its pictures."""
        return (
            self.succeeded
            and self.image_id is not None
            and any(str(button.get("label", "")).upper() in ("U1", "U2", "U3", "U4") for button in self.buttons)
        )

    def suggested_prompts(self) -> list[str]:
        """Describe's four prompts, or shorten's candidates, from the gateway's final prompt."""
        from .prompts import suggestions

        return suggestions(self.final_prompt) if self.makes_text else []

    def button_rows(self) -> list[dict[str, Any]]:
        """The task's own buttons (never a fixed set), each saying whether it needs more input first."""
        return [
            {
                **button,
                "modal": needs_modal(str(button.get("customId", ""))),
                "name": name_of(str(button.get("customId", "")), str(button.get("label") or "")),
            }
            for button in self.buttons
        ]

    def parts(self) -> StoredFileQuerySet:
        """The grid's four pictures, once split (each the owner's file)."""
        mine = StoredFile.objects.filter(owner_id=self.owner_id, source=StoredFile.Source.MIDJOURNEY, origin_id=self.pk)
        previews = StoredFile.objects.previews_of_midjourney()
        return mine.exclude(pk__in=[pk for pk in (self.image_id, self.preview_id) if pk]).exclude(
            pk__in=previews.values("pk")
        )

    def lineage(self) -> list["MidjourneyTask"]:
        """The tasks this one was made from, oldest first (a bounded walk: pictures are not that deep)."""
        chain: list[MidjourneyTask] = []
        current = self.parent
        while current is not None and len(chain) < 50:
            chain.append(current)
            current = current.parent
        return list(reversed(chain))

    def age_since_accepted(self, now: datetime | None = None) -> float:
        start = self.submitted_at or self.created_at
        return ((now or timezone.now()) - start).total_seconds()
