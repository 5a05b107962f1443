"""
Server-sent events that follow a reply, live, from wherever it is written.

A browser's stream only watches: it gets a snapshot of the reply so far,
then the new text as it arrives, a rendered snapshot now and then (the same
renderer as the stored reply), and a final event with the finished message
fragment. Closing it changes nothing about the reply. Keep-alive comments go
out while the upstream is silent, so routers never cut an idle stream.
"""

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings

from .models import Message
from .rendering import render_markdown
from .replies import live_reply

# Seconds between two polls of the database when the reply is written by
# another process.
POLL_SECONDS = 0.5
# Snapshots are rendered at most this often, and less often for long text
# (never more than a few percent of a stream's time goes to rendering).
MIN_RENDER_SECONDS = 0.25


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def follow(message: Message, render_final: Callable[[Message], str]) -> Iterator[bytes]:
    yield b": connected\n\n"
    live = live_reply(message.pk)
    if live is not None:
        text, done = live.text, live.done
    else:
        message.refresh_from_db(fields=["content", "status"])
        text, done = message.content, not message.is_live
    yield sse("snapshot", {"text": text, "html": render_markdown(text)})
    sent = rendered = len(text)
    last_output = last_render = time.monotonic()
    render_every = MIN_RENDER_SECONDS

    while not done:
        if live is not None:
            live.wait_beyond(sent, timeout=min(settings.CHAT_KEEPALIVE_SECONDS, render_every))
            text, done = live.text, live.done
        else:
            time.sleep(POLL_SECONDS)
            row = Message.objects.filter(pk=message.pk).values("content", "status").first()
            if row is None:
                break
            text, done = row["content"], row["status"] not in Message.LIVE_STATUSES
        now = time.monotonic()
        if len(text) > sent:
            yield sse("delta", {"o": sent, "t": text[sent:]})
            sent, last_output = len(text), now
        if rendered < sent and now - last_render >= render_every and not done:
            began = time.monotonic()
            html = render_markdown(text[:sent])
            cost = time.monotonic() - began
            render_every = max(MIN_RENDER_SECONDS, cost * 30)
            yield sse("render", {"upto": sent, "html": html})
            rendered, last_render = sent, now
        elif now - last_output >= settings.CHAT_KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            last_output = now

    message.refresh_from_db()
    yield sse("end", {"status": message.status, "html": render_final(message)})
