"""
A paid call that runs in the web process that started it, as a reply does
(``chat.background``): a studio run, an audio file being transcribed. One
row says where it stands; it marks itself alive while it runs, and a row
still running but not marked for CHAT_STALE_STREAM_SECONDS belongs to a
process that died: each feature settles it as interrupted, with Retry, and
never re-runs it by itself (it may have been paid for).
"""

from datetime import datetime, timedelta
from typing import Any, Self

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def stale_before() -> datetime:
    """A run not marked alive since then belongs to a process that died."""
    return timezone.now() - timedelta(seconds=settings.CHAT_STALE_STREAM_SECONDS)


class InProcessRunQuerySet[M: "InProcessRun"](models.QuerySet[M]):
    def for_user(self, user: Any) -> Self:
        return self.filter(owner=user)

    def running(self) -> Self:
        return self.filter(status=InProcessRun.Status.RUNNING)

    def stale(self) -> Self:
        return self.running().filter(updated_at__lt=stale_before())


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
