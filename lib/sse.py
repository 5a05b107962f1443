"""
Server-sent events, framed one way for every stream on the site: a reply,
the playground, the job centre, a run being followed.
"""

import json
from collections.abc import Iterable
from typing import Any

from django.http import StreamingHttpResponse


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def comment(text: str) -> bytes:
    """A line the browser ignores: the first byte at once, and keep-alives routers see as traffic."""
    return f": {text}\n\n".encode()


def response(events: Iterable[bytes | str]) -> StreamingHttpResponse:
    """A response of server-sent events that proxies and routers pass on event by event."""
    stream = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    stream["Cache-Control"] = "no-cache"
    stream["X-Accel-Buffering"] = "no"
    return stream
