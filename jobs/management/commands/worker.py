"""
The worker process (the Procfile's ``worker`` line): django-tasks-db's
``db_worker``, which runs queued jobs (with PostgreSQL, two workers never
take one job: rows are claimed with SKIP LOCKED), and beside it the sweep,
at start and then every WORKER_SWEEP_SECONDS: each feature's registered
sweep (``jobs.registry.register_sweep``: Midjourney hands over tasks whose
worker died and settles lost submits; search indexes what a missed signal
left out), then the queue's old results are pruned: each fetch of a
Midjourney task is a job, and their rows would pile up forever.
"""

import logging
import os
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker
from django_tasks_db.models import DBTaskResult

from jobs.registry import sweeps

logger = logging.getLogger("aitre_web.worker")


# Finished jobs are kept this long for the admin to read (failures, with their traceback, longer).
KEEP_SUCCEEDED = timedelta(days=1)
KEEP_FAILED = timedelta(days=7)
PRUNE_BATCH = 5000


def prune_results() -> int:
    """Old finished jobs, and jobs left "running" by a worker that died a week ago, deleted in bounded batches."""
    now = timezone.now()
    deleted = 0
    for old in (
        DBTaskResult.objects.successful().filter(finished_at__lt=now - KEEP_SUCCEEDED),
        DBTaskResult.objects.failed().filter(finished_at__lt=now - KEEP_FAILED),
        DBTaskResult.objects.running().filter(started_at__lt=now - KEEP_FAILED),
    ):
        ids = list(old.values_list("pk", flat=True)[:PRUNE_BATCH])
        deleted += DBTaskResult.objects.filter(pk__in=ids).delete()[0]
    return deleted


def sweep_once() -> None:
    for name, sweep in sweeps().items():
        try:
            close_old_connections()
            done = sweep()
            # A count, or counts (Midjourney: lost submits settled, tasks handed over): said when not nothing.
            if any(done) if isinstance(done, tuple) else done:
                logger.info("Sweep (%s): %s", name, done)
        except Exception:
            logger.exception("The %s sweep failed; it runs again shortly", name)
        finally:
            connection.close()
    try:
        pruned = prune_results()
        if pruned:
            logger.info("Sweep: %s old job results pruned", pruned)
    finally:
        connection.close()


def _sweep_forever(stop: threading.Event) -> None:
    while True:
        try:
            sweep_once()
        except Exception:
            logger.exception("The sweep failed; it runs again shortly")
        # Slept, not waited on the event: a timed wait never wakes under libfaketime (the date tests).
        time.sleep(settings.WORKER_SWEEP_SECONDS)
        if stop.is_set():
            return


class Command(DatabaseWorker):
    help = "Run the background worker: queued jobs, and the sweep that resumes work whose worker died."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        # With --reload, the watching parent does no work: only the child sweeps.
        working = not options.get("reload") or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true"
        if settings.WORKER_SWEEP_SECONDS > 0 and working:
            threading.Thread(target=_sweep_forever, args=(stop,), daemon=True, name="sweep").start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
