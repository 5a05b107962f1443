"""
Following a generation over server-sent events, from any process: the row is
read every second (a generation takes seconds to minutes, so a second is
nothing), with a keep-alive comment while nothing changes, and the run's
finished HTML as the last event. A run whose process died is settled here.
"""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse

from chat.live import release_connection

from .models import Generation

POLL_SECONDS = 1.0


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _events(generation: Generation, render: Callable[[Generation], str]) -> Iterator[bytes]:
    from . import studio

    yield b": following\n\n"
    quiet_since = time.monotonic()
    while True:
        current = Generation.objects.filter(pk=generation.pk).first()
        if current is None:
            yield _event("end", {"status": "deleted", "html": ""})
            return
        if current.is_stale:
            studio.settle_stale(Generation.objects.filter(pk=current.pk))
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


def response(generation: Generation, render: Callable[[Generation], str]) -> StreamingHttpResponse:
    streamed = StreamingHttpResponse(_events(generation, render), content_type="text/event-stream")
    streamed["Cache-Control"] = "no-cache"
    streamed["X-Accel-Buffering"] = "no"
    return streamed
