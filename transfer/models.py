import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.presence import pause
from jobs.registry import Job


def _archive_name(export: "Export", filename: str) -> str:
    # Nothing guessable: the owner's number and the export's own id.
    return f"exports/{export.owner_id}/{export.pk.hex}.zip"


class WorkerJobQuerySet[J: "WorkerJob"](models.QuerySet[J]):
    def for_user(self, user: Any) -> "WorkerJobQuerySet[J]":
        return self.filter(owner=user)

    def stale(self) -> "WorkerJobQuerySet[J]":
        """Running, and not marked alive for STALE_AFTER: their worker died."""
        model: Any = self.model
        since = timezone.now() - model.STALE_AFTER
        unmarked = models.Q(heartbeat_at__lt=since) | models.Q(heartbeat_at__isnull=True, created_at__lt=since)
        return self.filter(unmarked, status=model.RUNNING)


class WorkerJob(models.Model):
    """
    What the worker does for one user here (an export, an import): queued,
    then running (claimed by one worker), then ended, with the error said when
    it failed. Each kind names its own statuses; ``RUNNING`` is its running one.
    """

    # A running job's worker marks it alive every HEARTBEAT (``beating``); one
    # unmarked for STALE_AFTER died with its worker and is said to have failed
    # (an import then says how many conversations it had written).
    HEARTBEAT = timedelta(seconds=20)
    STALE_AFTER = timedelta(minutes=2)
    # Queued this long with no worker seen: the page says nothing is picking jobs up.
    UNCLAIMED_AFTER = timedelta(seconds=30)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="%(class)ss")
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
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

    @property
    def waits_for_a_worker(self) -> bool:
        """Queued a while, and no worker has been seen since: the page says so rather than wait in silence."""
        from jobs import presence

        return (
            self.status == self.QUEUED
            and self.created_at < timezone.now() - self.UNCLAIMED_AFTER
            and not presence.worker_seen()
        )

    def claim(self) -> bool:
        """Queued to running, for one worker only."""
        return bool(
            type(self)
            ._default_manager.filter(pk=self.pk, status=self.QUEUED)
            .update(status=self.RUNNING, heartbeat_at=timezone.now())
        )

    def beat(self) -> None:
        type(self)._default_manager.filter(pk=self.pk, status=self.RUNNING).update(heartbeat_at=timezone.now())

    @contextmanager
    def beating(self) -> Iterator[None]:
        """Marks the job alive while the block runs (in a thread: the block may be one long statement)."""
        done = threading.Event()

        def keep_alive() -> None:
            try:
                while not done.is_set():
                    pause(done, self.HEARTBEAT.total_seconds())
                    if not done.is_set():
                        try:
                            self.beat()
                        except DatabaseError:
                            # A busy database for a moment: the next beat tries again, well within STALE_AFTER.
                            connection.close()
            finally:
                connection.close()

        threading.Thread(target=keep_alive, daemon=True, name=f"beat-{self.pk}").start()
        try:
            yield
        finally:
            done.set()

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
        stale = list(cls._default_manager.all().stale())  # type: ignore[attr-defined]  # each kind's WorkerJobQuerySet
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
    # As uploaded: a zip (with its pictures) or the JSON alone.
    return f"imports/{record.owner_id}/{record.pk.hex}{'.zip' if filename.endswith('.zip') else '.json'}"


class Import(WorkerJob):
    """
    A file being imported: its size and shape checked in the request, then
    read, planned and written by the worker, a chunk of conversations a
    transaction (transfer.importing); ``conversations`` counts those written
    so far while it runs. The file is kept in storage only until then.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        IMPORTING = "importing", _("importing")
        DONE = "done", _("imported")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    RUNNING = Status.IMPORTING

    name = models.CharField(_("file name"), max_length=255)
    source = models.CharField(_("format"), max_length=32)
    upload = models.FileField(_("file"), upload_to=_upload_name, max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    conversations = models.PositiveIntegerField(_("conversations"), default=0)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    files = models.PositiveIntegerField(_("files"), default=0)
    # What was left out, by reason (in the importing user's language): {"tool messages": 3}.
    skipped = models.JSONField(_("not imported"), default=dict, blank=True)
    # Each conversation left out and why, and what was cleaned where: lines for the page.
    notes = models.JSONField(_("notes"), default=list, blank=True)
    # The language of the person who imported it: the worker writes its report in it.
    language = models.CharField(max_length=16, blank=True, editable=False)

    objects = WorkerJobQuerySet["Import"].as_manager()

    class Meta(WorkerJob.Meta):
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def skipped_lines(self) -> list[str]:
        return [f"{reason}: {count}" for reason, count in sorted(self.skipped.items())]

    def cancel(self) -> bool:
        """
        Stop it: a queued import never starts; a running one is rolled back by
        its worker at its next step (and when it has already written, at its
        commit, which checks this). False when it had already ended.
        """
        stopped = Import.objects.filter(pk=self.pk, status__in=[self.Status.QUEUED, self.Status.IMPORTING]).update(
            status=self.Status.CANCELLED, finished_at=timezone.now()
        )
        if stopped and self.status == self.Status.QUEUED:
            Import.objects.filter(pk=self.pk).update(**self.forget_files())
        return bool(stopped)

    def forget_files(self) -> dict[str, str]:
        """The file is not kept once it is written (or could not be): it is the user's history."""
        if self.upload:
            self.upload.delete(save=False)
        return {"upload": ""}
