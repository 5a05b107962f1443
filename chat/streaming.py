"""
Server-sent events that follow a reply, live, from wherever it is written.

A stream only watches: it gets a snapshot of the reply so far, then the new
text as it arrives, a rendered snapshot now and then (the same renderer as
the stored reply), and a final event with the finished message fragment.
Closing it changes nothing about the reply. The first byte leaves at once
and keep-alive comments follow while the upstream is silent, so routers
never cut a stream.

The reply's text comes from this process when it is written here, else from
the Redis relay when ``REDIS_URL`` is set, else from the database (which the
writer updates about once a second).
"""

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse

from lib import sse
from lib.db import release_connection

from .live import RelayFollower, get_relay, live_reply
from .models import Message
from .rendering import SnapshotRenderer
from .settling import settle_stale

# How often a follower re-reads the database: for new text when there is no
# relay, and for the reply's status either way.
POLL_SECONDS = 0.5
STATUS_SECONDS = 1.0
# Snapshots are rendered at most this often, and less often when one takes
# long (a long code block, which cannot be rendered in parts), so rendering
# never takes more than a few percent of a stream's time.
MIN_RENDER_SECONDS = 0.5
# After the first piece (sent at once: it is the time to first token), new
# text goes out at most this often: a few tokens an event rather than one,
# which is most of a stream's cost, and still smooth to read.
COALESCE_SECONDS = 0.1


def response(
    message: Message, render_final: Callable[[Message], str], *, start: dict[str, Any] | None = None
) -> StreamingHttpResponse:
    """
    The event stream that follows ``message``, for a browser: after a
    ``start`` event when the stream is the answer to a send (the new
    fragments ride along), ending with the message's final fragment.
    """
    events = follow(message, render_final)
    if start is not None:
        events = itertools.chain([sse.event("start", start)], events)
    return sse.response(events)


class _Source:
    """Where the text of a reply is read from; ``poll`` returns (text, done)."""

    # How long a follower lets new text gather before sending it on.
    coalesce_seconds = COALESCE_SECONDS

    def poll(self, have: int, timeout: float) -> tuple[str, bool]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _LocalSource(_Source):
    def __init__(self, message: Message) -> None:
        live = live_reply(message.pk)
        assert live is not None
        self.live = live
        # The writer here reads the upstream once an interval, in one piece
        # (aitre.client.ChatStream): the text comes gathered already, and
        # waiting again would only add a wake-up and a delay.
        if settings.AITRE_STREAM_READ_INTERVAL >= COALESCE_SECONDS:
            self.coalesce_seconds = 0.0

    def poll(self, have: int, timeout: float) -> tuple[str, bool]:
        self.live.wait_beyond(have, timeout)
        return self.live.text, self.live.done


class _RemoteSource(_Source):
    """
    A reply written by another process: text from the relay when there is
    one, the reply's fate (and, without a relay, its text) from the database.
    The relay and the database both hold prefixes of the same final text,
    so the text here only grows.
    """

    def __init__(self, message: Message) -> None:
        self.pk = message.pk
        relay = get_relay()
        # Subscribe before reading anything, so no announcement is missed.
        self.follower: RelayFollower | None = relay.follow(message.pk) if relay is not None else None
        self.relaying = False
        self.text = ""
        self.done = False
        self.checked_at = 0.0
        self._read_database()
        self._read_relay()

    def _read_database(self) -> None:
        self.checked_at = time.monotonic()
        row = Message.objects.filter(pk=self.pk).values("content", "status", "updated_at").first()
        if row is not None and Message.is_stale_row(row["status"], row["updated_at"]):
            # Its process died: it is settled, for everyone.
            settle_stale(Message.objects.filter(pk=self.pk))
            row = Message.objects.filter(pk=self.pk).values("content", "status", "updated_at").first()
        if row is None:  # deleted
            self.done = True
            return
        if row["status"] not in Message.LIVE_STATUSES:
            self.done = True
        if len(row["content"]) > len(self.text) and (not self.relaying or self.done):
            self.text = row["content"]
        release_connection()

    def _read_relay(self) -> None:
        if self.follower is None:
            return
        piece = self.follower.read()
        if piece is None:
            return
        if self.relaying:
            self.text += piece
        else:
            # The first read is the whole text so far.
            self.relaying = True
            self.text = max(self.text, piece, key=len)

    def poll(self, have: int, timeout: float) -> tuple[str, bool]:
        if self.follower is not None:
            ended = any(data == b"end" for data in self.follower.wait(min(timeout, STATUS_SECONDS)))
            self._read_relay()
            if ended or time.monotonic() - self.checked_at >= STATUS_SECONDS:
                self._read_database()
        else:
            time.sleep(min(timeout, POLL_SECONDS))
            self._read_database()
        return self.text, self.done

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()


def utf16_length(text: str) -> int:
    """``text``'s length as JavaScript counts it (UTF-16 code units: two for an emoji)."""
    return len(text.encode("utf-16-le")) // 2


def follow(message: Message, render_final: Callable[[Message], str]) -> Iterator[bytes]:
    yield sse.comment("connected")
    source: _Source = _LocalSource(message) if live_reply(message.pk) is not None else _RemoteSource(message)
    try:
        text, done = source.poll(0, 0)
        # The view's queries are done; the stream holds no connection while it waits.
        release_connection()
        renderer = SnapshotRenderer()
        yield sse.event("snapshot", {"text": text, "html": renderer.render(text)})
        sent = rendered = len(text)
        # The page counts text in UTF-16 code units (JavaScript strings), Python in code points:
        # an emoji is one here and two there, so every offset the page gets is in its own units.
        sent_units = utf16_length(text)
        last_output = last_render = time.monotonic()
        render_every = MIN_RENDER_SECONDS
        while not done:
            text, done = source.poll(sent, min(settings.CHAT_KEEPALIVE_SECONDS, render_every))
            if sent and len(text) > sent and not done and source.coalesce_seconds:
                time.sleep(source.coalesce_seconds)
                text, done = source.poll(len(text), 0)
            now = time.monotonic()
            if len(text) > sent:
                piece = text[sent:]
                yield sse.event("delta", {"o": sent_units, "t": piece})
                sent, sent_units, last_output = len(text), sent_units + utf16_length(piece), now
            if rendered < sent and now - last_render >= render_every and not done:
                began = time.monotonic()
                html = renderer.render(text[:sent])
                render_every = max(MIN_RENDER_SECONDS, (time.monotonic() - began) * 30)
                yield sse.event("render", {"upto": sent_units, "html": html})
                rendered, last_render = sent, now
            elif now - last_output >= settings.CHAT_KEEPALIVE_SECONDS:
                yield sse.comment("keep-alive")
                last_output = now
    finally:
        source.close()
    message.refresh_from_db()
    yield sse.event("end", {"status": message.status, "html": render_final(message)})
