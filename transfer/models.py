import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _archive_name(export: "Export", filename: str) -> str:
    # Nothing guessable: the owner's number and the export's own id.
    return f"exports/{export.owner_id}/{export.pk.hex}.zip"


class ExportQuerySet(models.QuerySet["Export"]):
    def for_user(self, user: Any) -> "ExportQuerySet":
        return self.filter(owner=user)


class Export(models.Model):
    """Everything of one user's, as one zip built by the worker (transfer.archive)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        BUILDING = "building", _("being built")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    archive = models.FileField(_("archive"), upload_to=_archive_name, max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    conversations = models.PositiveIntegerField(_("conversations"), default=0)
    files = models.PositiveIntegerField(_("files"), default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = ExportQuerySet.as_manager()

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("transfer:download", args=[self.pk])

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.BUILDING)

    @property
    def download_name(self) -> str:
        return f"aitre-export-{timezone.localtime(self.created_at):%Y-%m-%d}.zip"

    def delete_with_archive(self) -> None:
        if self.archive:
            self.archive.delete(save=False)
        self.delete()
