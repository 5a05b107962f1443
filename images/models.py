"""
One run of the image studio: a prompt, a model and its parameters, and the
images it made (kept as the owner's files, ``files.StoredFile`` with source
"studio" and this run's number as origin).
"""

import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from files.models import StoredFile, StoredFileQuerySet


def stale_before() -> datetime:
    """A running generation not marked alive since then belongs to a process that died."""
    return timezone.now() - timedelta(seconds=settings.CHAT_STALE_STREAM_SECONDS)


class GenerationQuerySet(models.QuerySet["Generation"]):
    def for_user(self, user: Any) -> "GenerationQuerySet":
        return self.filter(owner=user)

    def running(self) -> "GenerationQuerySet":
        return self.filter(status=Generation.Status.RUNNING)

    def stale(self) -> "GenerationQuerySet":
        return self.running().filter(updated_at__lt=stale_before())


class Generation(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        COMPLETE = "complete", _("complete")
        ERROR = "error", _("failed")
        INTERRUPTED = "interrupted", _("interrupted")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations")
    model = models.CharField(_("model"), max_length=200)
    prompt = models.TextField(_("prompt"))
    # Only the parameters the model's family takes (aitre.client.images.FAMILIES).
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    count = models.PositiveSmallIntegerField(_("images asked for"), default=1)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(_("error"), blank=True)
    revised_prompt = models.TextField(_("revised prompt"), blank=True)
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=6, null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("time taken (ms)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Also the heartbeat while running (see studio.run).
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        verbose_name = _("image generation")
        verbose_name_plural = _("image generations")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(
                fields=["status", "updated_at"], name="images_gen_running_idx", condition=models.Q(status="running")
            ),
        ]

    def __str__(self) -> str:
        # Never the prompt: this string shows in the admin.
        return str(_("Generation #%(number)s")) % {"number": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("images:studio") + f"#g{self.pk}"

    def usage_label(self) -> str:
        """How its owner sees it on their Usage page (see usage.subjects)."""
        prompt = " ".join(self.prompt.split())
        return str(_("Image: %(prompt)s")) % {"prompt": prompt[:50] + ("…" if len(prompt) > 50 else "")}

    @property
    def params_json(self) -> str:
        return json.dumps(self.params)

    @property
    def duration_seconds(self) -> str:
        return f"{(self.duration_ms or 0) / 1000:.1f}"

    @property
    def is_running(self) -> bool:
        return self.status == self.Status.RUNNING

    @property
    def is_stale(self) -> bool:
        return self.is_running and self.updated_at < stale_before()

    @property
    def can_retry(self) -> bool:
        return self.status in (self.Status.ERROR, self.Status.INTERRUPTED)

    def images(self) -> StoredFileQuerySet:
        return StoredFile.objects.filter(owner_id=self.owner_id, source=StoredFile.Source.STUDIO, origin_id=self.pk)

    def heartbeat(self) -> bool:
        return bool(Generation.objects.filter(pk=self.pk, status=self.Status.RUNNING).update(updated_at=timezone.now()))

    def finish(self, **fields: Any) -> bool:
        """The one final write, guarded: a run swept as interrupted meanwhile is not overwritten."""
        fields["updated_at"] = timezone.now()
        changed = Generation.objects.filter(pk=self.pk, status=self.Status.RUNNING).update(**fields)
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)
