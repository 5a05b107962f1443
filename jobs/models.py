"""The workers, as each last said it was alive: so a page can tell a queued job that no worker will take."""

from django.db import models
from django.utils import timezone


class WorkerPresence(models.Model):
    # "host:pid:queues", one row a worker process, kept fresh while it runs (jobs.presence).
    name = models.CharField(max_length=200, unique=True)
    queues = models.CharField(max_length=200)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.name
