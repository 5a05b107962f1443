"""
The one way to start work that outlasts its request: ``start`` runs it
apart (a greenlet under gevent, a thread otherwise) in the language of the
person who asked, and ``heartbeat`` marks it alive while it runs. A reply,
a studio run, an audio file being transcribed and the worker's jobs all use
these two; a process that dies stops beating, and the kind's stale rule
(``jobs.runs``, ``jobs.models.WorkerJob``, ``chat.settling``) settles it.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection
from django.utils import translation


def pause(stop: threading.Event, seconds: float) -> None:
    """
    Sleep up to ``seconds``, back early when ``stop`` is set. Slept in short
    steps, not waited on the event: a timed wait never wakes under libfaketime
    (the date tests), and a sleep does.
    """
    end = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < end:
        time.sleep(min(0.25, seconds))


def start(name: str, work: Callable[[], object]) -> None:
    """Run ``work`` apart from the request, in the language of the person who asked (errors are written in it)."""
    language = translation.get_language()

    def run() -> None:
        try:
            with translation.override(language):
                work()
        finally:
            connection.close()

    threading.Thread(target=run, daemon=True, name=name).start()


@contextmanager
def heartbeat(beat: Callable[[], object], every: float, name: str = "heartbeat") -> Iterator[None]:
    """
    Call ``beat`` every ``every`` seconds while the block runs (from a
    thread of its own: the block may be one long statement or call). A busy
    database for a moment is no death: the next beat tries again.
    """
    done = threading.Event()

    def keep_alive() -> None:
        try:
            while not done.is_set():
                pause(done, every)
                if not done.is_set():
                    try:
                        beat()
                    except DatabaseError:
                        connection.close()
        finally:
            connection.close()

    threading.Thread(target=keep_alive, daemon=True, name=name).start()
    try:
        yield
    finally:
        done.set()
