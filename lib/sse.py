"""
Server-sent events, framed one way for every stream on the site: a reply,
the playground, the job centre, a run being followed.
"""

import json
import time
from collections.abc import Iterable
from typing import Any

from django.http import StreamingHttpResponse


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def comment(text: str) -> bytes:
    """A line the browser ignores: the first byte at once, and keep-alives routers see as traffic."""
    return f": {text}\n\n".encode()


class Quiet:
    """
    How long a stream has said nothing: past ``seconds`` it owes a keep-alive
    comment, so routers that cut an idle request (55 s, say) never do.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since = time.monotonic()

    def spoke(self) -> None:
        self.since = time.monotonic()

    def keep_alive(self) -> bytes | None:
        """The keep-alive comment when one is owed (the quiet starts again), else None."""
        if time.monotonic() - self.since < self.seconds:
            return None
        self.spoke()
        return comment("keep-alive")


def response(events: Iterable[bytes | str]) -> StreamingHttpResponse:
    """A response of server-sent events that proxies and routers pass on event by event."""
    stream = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    stream["Cache-Control"] = "no-cache"
    stream["X-Accel-Buffering"] = "no"
    return stream
