"""
*Following* a job that is not a reply (a studio run, an audio file being
transcribed, a Midjourney task) over server-sent events, from any process:
its row is read every second (such work takes seconds to minutes, so a
second is nothing), with a keep-alive comment while nothing changes, and
its finished HTML as the last event. A job whose process died is settled
here, by its kind's own rule. (A reply is followed by ``chat.streaming``,
which also carries its text as it grows.)
"""

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from django.conf import settings
from django.http import StreamingHttpResponse

from lib import sse
from lib.db import release_connection

POLL_SECONDS = 1.0


class Work(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def is_running(self) -> bool: ...
    @property
    def is_stale(self) -> bool: ...


def _events[W: Work](
    load: Callable[[], W | None],
    settle: Callable[[W], object],
    render: Callable[[W], str],
    progress: Callable[[W], dict[str, Any]] | None,
) -> Iterator[bytes]:
    yield sse.comment("following")
    quiet = sse.Quiet(settings.CHAT_KEEPALIVE_SECONDS)
    shown: dict[str, Any] | None = None
    while True:
        current = load()
        if current is None:
            yield sse.event("end", {"status": "deleted", "html": ""})
            return
        if current.is_stale:
            settle(current)
            continue
        if not current.is_running:
            yield sse.event("end", {"status": current.status, "html": render(current)})
            return
        if progress is not None and (now := progress(current)) != shown:
            shown = now
            quiet.spoke()
            yield sse.event("progress", now)
        elif (keep_alive := quiet.keep_alive()) is not None:
            yield keep_alive
        # The connection goes back to the pool between reads.
        release_connection()
        time.sleep(POLL_SECONDS)


def response[W: Work](
    load: Callable[[], W | None],
    *,
    settle: Callable[[W], object],
    render: Callable[[W], str],
    progress: Callable[[W], dict[str, Any]] | None = None,
) -> StreamingHttpResponse:
    """
    ``load`` reads the row afresh (None once deleted); ``settle`` marks it
    interrupted; ``render`` its HTML. ``progress``, for work that says how far
    it is: a ``progress`` event each time what it returns changes.
    """
    return sse.response(_events(load, settle, render, progress))
