import uuid
from datetime import timedelta
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


def _upload_name(record: "Import", filename: str) -> str:
    return f"imports/{record.owner_id}/{record.pk.hex}.json"


class ImportQuerySet(models.QuerySet["Import"]):
    def for_user(self, user: Any) -> "ImportQuerySet":
        return self.filter(owner=user)


class Import(models.Model):
    """
    A file being imported: checked in the request (transfer.importing.check),
    written by the worker in one transaction (transfer.importing.run). The
    JSON is kept in storage only until then.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        IMPORTING = "importing", _("importing")
        DONE = "done", _("imported")
        FAILED = "failed", _("failed")

    # Longer than any import takes: one still "importing" after this died with its worker
    # (its transaction rolled back, nothing written), and is said to have failed.
    STALE_AFTER = timedelta(hours=1)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="imports")
    name = models.CharField(_("file name"), max_length=255)
    source = models.CharField(_("format"), max_length=32)
    upload = models.FileField(_("file"), upload_to=_upload_name, max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    conversations = models.PositiveIntegerField(_("conversations"), default=0)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    # What was left out, by reason (in the importing user's language): {"tool messages": 3}.
    skipped = models.JSONField(_("not imported"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = ImportQuerySet.as_manager()

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.IMPORTING)

    def skipped_lines(self) -> list[str]:
        return [f"{reason}: {count}" for reason, count in sorted(self.skipped.items())]

    def forget_upload(self) -> None:
        """The JSON is not kept once it is written (or could not be): it is the user's history."""
        if self.upload:
            self.upload.delete(save=False)
