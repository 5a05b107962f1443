"""
One run of the image studio: a prompt, a model and its parameters, and the
images it made (kept as the owner's files, ``files.StoredFile`` with source
"studio" and this run's number as origin).
"""

import json

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from files.models import StoredFile, StoredFileQuerySet
from jobs.runs import InProcessRun, InProcessRunQuerySet


class GenerationQuerySet(InProcessRunQuerySet["Generation"]):
    """for_user, running, stale and settle_stale (jobs.runs)."""


class Generation(InProcessRun):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations")
    model = models.CharField(_("model"), max_length=200)
    prompt = models.TextField(_("prompt"))
    # Only the parameters the model's family takes (aitre.client.images.FAMILIES).
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    count = models.PositiveSmallIntegerField(_("images asked for"), default=1)
    error = models.TextField(_("error"), blank=True)
    revised_prompt = models.TextField(_("revised prompt"), blank=True)
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=6, null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("time taken (ms)"), null=True, blank=True)

    objects = GenerationQuerySet.as_manager()
    interrupted_error = _(
        "The generation was interrupted because the server restarted. It may have been charged; Retry runs it again."
    )

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
    def can_retry(self) -> bool:
        return self.status in (self.Status.ERROR, self.Status.INTERRUPTED)

    def images(self) -> StoredFileQuerySet:
        return StoredFile.objects.filter(owner_id=self.owner_id, source=StoredFile.Source.STUDIO, origin_id=self.pk)
