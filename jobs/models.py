"""
The rows of background work every kind shares: ``WorkerJob``, the base of a
job the worker runs for one user (an export, an import), with its one stale
rule; and ``WorkerPresence``, the workers as each last said it was alive, so
a page can tell a queued job that no worker will take. (A job run in the web
process that started it is a ``jobs.runs.InProcessRun``.)
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import background
from .registry import Job

if TYPE_CHECKING:
    from accounts.models import User


class WorkerPresence(models.Model):
    # Each worker writes its row this often (jobs.presence); three missed
    # marks and it is gone (or so busy its thread cannot write, which is as bad).
    MARK_SECONDS = 10.0
    SEEN_WITHIN = timedelta(seconds=3 * MARK_SECONDS)

    # "host:pid:queues", one row a worker process, kept fresh while it runs (jobs.presence).
    name = models.CharField(max_length=200, unique=True)
    queues = models.CharField(max_length=200)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def any_seen(cls, within: timedelta = SEEN_WITHIN) -> bool:
        return cls.objects.filter(seen_at__gte=timezone.now() - within).exists()


class WorkerJobQuerySet[J: "WorkerJob"](models.QuerySet[J]):
    def for_user(self, user: "User") -> "WorkerJobQuerySet[J]":
        return self.filter(owner=user)

    def stale(self) -> "WorkerJobQuerySet[J]":
        """Running, and not marked alive for STALE_AFTER: their worker died."""
        model: Any = self.model
        since = timezone.now() - model.STALE_AFTER
        unmarked = models.Q(heartbeat_at__lt=since) | models.Q(heartbeat_at__isnull=True, created_at__lt=since)
        return self.filter(unmarked, status=model.RUNNING)

    def settle_stale(self) -> int:
        """Jobs among these whose worker died: failed, each saying why in its kind's words; how many."""
        stale = list(self.stale())
        for job in stale:
            job.fail(job.stale_error())
        return len(stale)


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
        return (
            self.status == self.QUEUED
            and self.created_at < timezone.now() - self.UNCLAIMED_AFTER
            and not WorkerPresence.any_seen()
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
        """Marks the job alive every HEARTBEAT while the block runs (the block may be one long statement)."""
        with background.heartbeat(self.beat, self.HEARTBEAT.total_seconds(), name=f"beat-{self.pk}"):
            yield

    def fail(self, error: str) -> None:
        type(self)._default_manager.filter(pk=self.pk).update(
            status=self.FAILED, error=error[:500], finished_at=timezone.now(), **self.forget_files()
        )

    def forget_files(self) -> dict[str, str]:
        """What a failed run leaves is deleted; the fields to clear with it."""
        return {}

    def stale_error(self) -> str:
        """What a job whose worker died says, in its kind's words."""
        raise NotImplementedError

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
