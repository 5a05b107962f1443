"""
Work that runs past its request in the web process that started it (a
greenlet under gevent, a thread otherwise), as replies do: a studio run, an
audio file being transcribed. It marks itself alive every few seconds; a
process that dies leaves it unmarked, and the feature's stale rule settles
it as interrupted, with Retry. A paid call is never re-run by itself.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.utils import translation


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
def heartbeat(beat: Callable[[], object]) -> Iterator[None]:
    """Call ``beat`` every CHAT_HEARTBEAT_SECONDS while the block runs."""
    done = threading.Event()

    def keep_alive() -> None:
        try:
            while not done.wait(settings.CHAT_HEARTBEAT_SECONDS):
                beat()
        finally:
            connection.close()

    threading.Thread(target=keep_alive, daemon=True).start()
    try:
        yield
    finally:
        done.set()
