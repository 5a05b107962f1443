"""
Whether any worker is alive: each worker process writes its row every
PRESENCE_SECONDS from a thread of its own (a long job does not silence it),
and the pages ask ``WorkerPresence.any_seen`` before saying a queued job waits for
nothing. Rows of workers gone for a day are pruned by the sweep.
"""

import logging
import os
import socket
import threading
from datetime import timedelta

from django.db import DatabaseError, connection
from django.utils import timezone

from .background import pause
from .models import WorkerPresence

logger = logging.getLogger("aitre_web.worker")

PRESENCE_SECONDS = WorkerPresence.MARK_SECONDS
FORGET_AFTER = timedelta(days=1)


def worker_name(queues: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{queues}"[:200]


def mark(name: str, queues: str) -> None:
    WorkerPresence.objects.update_or_create(name=name, defaults={"queues": queues, "seen_at": timezone.now()})


def prune() -> int:
    return WorkerPresence.objects.filter(seen_at__lt=timezone.now() - FORGET_AFTER).delete()[0]


def keep_marking(queues: str, stop: threading.Event) -> threading.Thread:
    """Mark this process alive until ``stop`` is set; a database that is busy for a while is waited out."""
    name = worker_name(queues)

    def run() -> None:
        while not stop.is_set():
            try:
                mark(name, queues)
            except DatabaseError as error:
                logger.warning("The worker could not say it is alive (%s); it tries again", error)
            finally:
                connection.close()
            pause(stop, PRESENCE_SECONDS)
        try:
            WorkerPresence.objects.filter(name=name).delete()
        except DatabaseError:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True, name="presence")
    thread.start()
    return thread
