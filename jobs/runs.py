"""
A *run*: a paid call that runs in the web process that started it
(``jobs.background``), as a reply does: a studio run, an audio file being
transcribed, a playground completion. One row says where it stands; it
marks itself alive while it runs (``beating``), and a row still running but
not marked for CHAT_STALE_STREAM_SECONDS belongs to a process that died:
``settle_stale`` ends it the way its kind says (``settled_fields``), with
Retry, and never re-runs it by itself (it may have been paid for).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from . import background

if TYPE_CHECKING:
    from accounts.models import User


def stale_before() -> datetime:
    """A run not marked alive since then belongs to a process that died."""
    return timezone.now() - timedelta(seconds=settings.CHAT_STALE_STREAM_SECONDS)


class InProcessRunQuerySet[M: "InProcessRun"](models.QuerySet[M]):
    def for_user(self, user: "User") -> Self:
        return self.filter(owner=user)

    def running(self) -> Self:
        return self.filter(status=InProcessRun.Status.RUNNING)

    def stale(self) -> Self:
        return self.running().filter(updated_at__lt=stale_before())

    def settle_stale(self) -> int:
        """Runs among these whose process died, ended as their kind says; how many."""
        return self.stale().update(**self.model.settled_fields())


class InProcessRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        COMPLETE = "complete", _("complete")
        ERROR = "error", _("failed")
        INTERRUPTED = "interrupted", _("interrupted")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Also the heartbeat while running.
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        abstract = True

    @property
    def is_running(self) -> bool:
        return self.status == self.Status.RUNNING

    @property
    def is_stale(self) -> bool:
        return self.is_running and self.updated_at < stale_before()

    # What a run of this kind whose process died says, in its kind's words.
    interrupted_error: ClassVar[StrOrPromise] = ""

    @classmethod
    def settled_fields(cls) -> dict[str, Any]:
        """
        What a run whose process died becomes: interrupted, saying so, with
        Retry. Its cost is unknown, so nothing is recorded.
        """
        return {"status": cls.Status.INTERRUPTED, "error": cls.interrupted_error}

    @contextmanager
    def beating(self) -> Iterator[None]:
        """Marks the run alive every CHAT_HEARTBEAT_SECONDS while the block runs."""
        with background.heartbeat(
            self.heartbeat, settings.CHAT_HEARTBEAT_SECONDS, name=f"beat-{self._meta.model_name}-{self.pk}"
        ):
            yield

    def heartbeat(self) -> bool:
        return bool(
            type(self)._default_manager.filter(pk=self.pk, status=self.Status.RUNNING).update(updated_at=timezone.now())
        )

    def finish(self, **fields: Any) -> bool:
        """The one final write, guarded: a run swept as interrupted meanwhile is not overwritten."""
        fields["updated_at"] = timezone.now()
        changed = type(self)._default_manager.filter(pk=self.pk, status=self.Status.RUNNING).update(**fields)
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)
