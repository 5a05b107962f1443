import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.registry import Job


def _archive_name(export: "Export", filename: str) -> str:
    # Nothing guessable: the owner's number and the export's own id.
    return f"exports/{export.owner_id}/{export.pk.hex}.zip"


class WorkerJobQuerySet[J: "WorkerJob"](models.QuerySet[J]):
    def for_user(self, user: Any) -> "WorkerJobQuerySet[J]":
        return self.filter(owner=user)


class WorkerJob(models.Model):
    """
    What the worker does for one user here (an export, an import): queued,
    then running (claimed by one worker), then ended, with the error said when
    it failed. Each kind names its own statuses; ``RUNNING`` is its running one.
    """

    # Longer than any run takes: one still running after this died with its worker
    # (an import's transaction rolled back, nothing written) and is said to have failed.
    STALE_AFTER = timedelta(hours=1)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="%(class)ss")
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Each kind redefines it with its own choices.
    status = models.CharField(_("status"), max_length=16, default="queued")

    RUNNING: str
    QUEUED = "queued"
    FAILED = "failed"

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.pk}"  # type: ignore[attr-defined]  # each kind's status field

    @property
    def is_pending(self) -> bool:
        return self.status in (self.QUEUED, self.RUNNING)

    def claim(self) -> bool:
        """Queued to running, for one worker only."""
        return bool(type(self)._default_manager.filter(pk=self.pk, status=self.QUEUED).update(status=self.RUNNING))

    def fail(self, error: str) -> None:
        type(self)._default_manager.filter(pk=self.pk).update(
            status=self.FAILED, error=error[:500], finished_at=timezone.now(), **self.forget_files()
        )

    def forget_files(self) -> dict[str, str]:
        """What a failed run leaves is deleted; the fields to clear with it."""
        return {}

    @classmethod
    def settle_stale(cls, error: str) -> int:
        """Runs whose worker died: failed, saying ``error``; how many."""
        stale = cls._default_manager.filter(status=cls.RUNNING, created_at__lt=timezone.now() - cls.STALE_AFTER)
        for run in stale:
            run.fail(error)
        return len(stale)

    def as_job(self, kind: str, title: str, url: str) -> Job:
        return Job(
            key=f"{self._meta.model_name}-{self.pk}",
            kind=kind,
            title=title,
            status=self.get_status_display(),  # type: ignore[attr-defined]  # each kind's status field
            running=self.is_pending,
            failed=self.status == self.FAILED,
            url=url,
            started_at=self.created_at,
            finished_at=self.finished_at,
            detail=self.error,
        )


class Export(WorkerJob):
    """Everything of one user's, as one zip built by the worker (transfer.archive)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        BUILDING = "building", _("being built")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    RUNNING = Status.BUILDING

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    archive = models.FileField(_("archive"), upload_to=_archive_name, max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    conversations = models.PositiveIntegerField(_("conversations"), default=0)
    files = models.PositiveIntegerField(_("files"), default=0)

    objects = WorkerJobQuerySet["Export"].as_manager()

    class Meta(WorkerJob.Meta):
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def get_absolute_url(self) -> str:
        return reverse("transfer:download", args=[self.pk])

    @property
    def download_name(self) -> str:
        return f"aitre-export-{timezone.localtime(self.created_at):%Y-%m-%d}.zip"

    def delete_with_archive(self) -> None:
        if self.archive:
            self.archive.delete(save=False)
        self.delete()


def _upload_name(record: "Import", filename: str) -> str:
    return f"imports/{record.owner_id}/{record.pk.hex}.json"


class Import(WorkerJob):
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

    RUNNING = Status.IMPORTING

    name = models.CharField(_("file name"), max_length=255)
    source = models.CharField(_("format"), max_length=32)
    upload = models.FileField(_("file"), upload_to=_upload_name, max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    conversations = models.PositiveIntegerField(_("conversations"), default=0)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    # What was left out, by reason (in the importing user's language): {"tool messages": 3}.
    skipped = models.JSONField(_("not imported"), default=dict, blank=True)

    objects = WorkerJobQuerySet["Import"].as_manager()

    class Meta(WorkerJob.Meta):
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def skipped_lines(self) -> list[str]:
        return [f"{reason}: {count}" for reason, count in sorted(self.skipped.items())]

    def forget_files(self) -> dict[str, str]:
        """The JSON is not kept once it is written (or could not be): it is the user's history."""
        if self.upload:
            self.upload.delete(save=False)
        return {"upload": ""}
