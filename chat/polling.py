"""
Following a piece of background work that is not a reply (a studio run, an
audio file being transcribed) over server-sent events, from any process:
its row is read every second (such work takes seconds to minutes, so a
second is nothing), with a keep-alive comment while nothing changes, and
its finished HTML as the last event. Work whose process died is settled
here, by the feature's own rule.
"""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from django.conf import settings
from django.http import StreamingHttpResponse

from .live import release_connection

POLL_SECONDS = 1.0


class Work(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def is_running(self) -> bool: ...
    @property
    def is_stale(self) -> bool: ...


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _events[W: Work](
    load: Callable[[], W | None], settle: Callable[[W], object], render: Callable[[W], str]
) -> Iterator[bytes]:
    yield b": following\n\n"
    quiet_since = time.monotonic()
    while True:
        current = load()
        if current is None:
            yield _event("end", {"status": "deleted", "html": ""})
            return
        if current.is_stale:
            settle(current)
            continue
        if not current.is_running:
            yield _event("end", {"status": current.status, "html": render(current)})
            return
        if time.monotonic() - quiet_since >= settings.CHAT_KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield b": keep-alive\n\n"
        # The connection goes back to the pool between reads.
        release_connection()
        time.sleep(POLL_SECONDS)


def response[W: Work](
    load: Callable[[], W | None], *, settle: Callable[[W], object], render: Callable[[W], str]
) -> StreamingHttpResponse:
    """``load`` reads the row afresh (None once deleted); ``settle`` marks it interrupted; ``render`` its HTML."""
    streamed = StreamingHttpResponse(_events(load, settle, render), content_type="text/event-stream")
    streamed["Cache-Control"] = "no-cache"
    streamed["X-Accel-Buffering"] = "no"
    return streamed
