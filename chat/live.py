"""
Replies being generated in this process, and what keeps them honest.

- ``LiveReply``: the text so far and a condition that wakes the event
  streams following the reply in this process.
- The watcher: one thread (a greenlet under gevent) per process, awake while
  this process has live replies. Twice a second it looks for Stop asked from
  another process, and every few seconds it writes a heartbeat, so a reply
  whose process died is recognised as interrupted (``MessageQuerySet.stale``).
- The relay: with ``REDIS_URL``, the text of each live reply is also kept in
  Redis and announced on a channel, so streams served by another process or
  instance follow it live. Without Redis they follow the database.
- ``drain()``: on a graceful shutdown, lets live replies finish, then marks
  the rest interrupted with their text.
- The sweeper: one thread per process, every CHAT_SWEEP_SECONDS, settles the
  replies of processes that died (``chat.settling``), so none stays
  "streaming" and uncounted because nobody opened it. Started with every
  gunicorn worker (``aitre_web/gunicorn.conf.py``) and by any process that
  starts a reply (``runserver`` included).
"""

import hashlib
import logging
import random
import threading
import time
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from aitre.client import Call
from lib.db import release_connection

from .models import Message
from .settling import settle_stale

if TYPE_CHECKING:
    from aitre.client import ChatStream

logger = logging.getLogger(__name__)

WATCH_SECONDS = 0.5
# Pieces are pushed to the relay at most this often, per reply.
RELAY_SECONDS = 0.05


class LiveReply:
    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.text = ""
        self.done = False
        self.cancelled = False
        # Cancelled by a shutdown rather than by the user.
        self.interrupted = False
        self.changed = threading.Condition()
        self._stream: ChatStream | None = None
        # The upstream call before its stream exists (waiting for the server's first byte).
        self.call = Call()
        self._relayed = 0
        self._relayed_at = 0.0

    def attach(self, stream: "ChatStream") -> None:
        self._stream = stream
        if self.cancelled:
            stream.cancel()

    def append(self, piece: str) -> None:
        with self.changed:
            self.text += piece
            self.changed.notify_all()
        self.relay_pending()

    def end(self) -> None:
        self.relay_pending(force=True)
        with self.changed:
            self.done = True
            self.changed.notify_all()
        relay = get_relay()
        if relay is not None:
            relay.finish(self.message_id)

    def cancel(self, *, interrupted: bool = False) -> None:
        self.interrupted = self.interrupted or interrupted
        self.cancelled = True
        self.call.cancel()
        if self._stream is not None:
            self._stream.cancel()

    def wait_beyond(self, offset: int, timeout: float) -> None:
        """Block until there is text past ``offset``, the reply ends, or the timeout."""
        with self.changed:
            if len(self.text) > offset or self.done:
                return
            self.changed.wait(timeout)

    def relay_pending(self, force: bool = False) -> None:
        relay = get_relay()
        if relay is None:
            return
        with self.changed:
            now = time.monotonic()
            if self._relayed == len(self.text) or (not force and now - self._relayed_at < RELAY_SECONDS):
                return
            first = self._relayed == 0
            piece, self._relayed, self._relayed_at = self.text[self._relayed :], len(self.text), now
        relay.push(self.message_id, piece, first=first)


_live: dict[int, LiveReply] = {}
_live_lock = threading.Lock()
_watcher: threading.Thread | None = None


def live_reply(message_id: int) -> LiveReply | None:
    return _live.get(message_id)


def register(message_id: int) -> LiveReply:
    global _watcher
    ensure_sweeper()
    with _live_lock:
        live = _live.get(message_id)
        if live is None:
            live = _live[message_id] = LiveReply(message_id)
        if _watcher is None or not _watcher.is_alive():
            _watcher = threading.Thread(target=_watch, daemon=True, name="reply-watcher")
            _watcher.start()
    return live


def unregister(message_id: int) -> None:
    with _live_lock:
        _live.pop(message_id, None)


def _watch() -> None:
    """Runs while this process has live replies; see the module docstring."""
    global _watcher
    heartbeat_at = time.monotonic()
    try:
        while True:
            time.sleep(WATCH_SECONDS)
            with _live_lock:
                lives = dict(_live)
                if not lives:
                    _watcher = None
                    return
            for live in lives.values():
                live.relay_pending()
            try:
                for pk in Message.objects.filter(pk__in=list(lives), cancel_requested=True).values_list(
                    "pk", flat=True
                ):
                    lives[pk].cancel()
                if time.monotonic() - heartbeat_at >= settings.CHAT_HEARTBEAT_SECONDS:
                    heartbeat_at = time.monotonic()
                    Message.objects.filter(pk__in=list(lives)).live().update(updated_at=timezone.now())
            except Exception:
                logger.exception("The reply watcher could not reach the database")
            finally:
                release_connection()
    finally:
        connection.close()


_sweeper: threading.Thread | None = None


def ensure_sweeper() -> None:
    """Start this process's sweeper unless it runs already (or CHAT_SWEEP_SECONDS is 0)."""
    global _sweeper
    if not settings.CHAT_SWEEP_SECONDS or (_sweeper is not None and _sweeper.is_alive()):
        return
    with _live_lock:
        if _sweeper is None or not _sweeper.is_alive():
            _sweeper = threading.Thread(target=_sweep, daemon=True, name="reply-sweeper")
            _sweeper.start()


def _sweep() -> None:
    interval = settings.CHAT_SWEEP_SECONDS
    # Processes started together should not all sweep at the same moment.
    time.sleep(random.uniform(0, interval))  # noqa: S311 (not for security)
    while True:
        try:
            settle_stale(Message.objects.all())
        except Exception:
            logger.exception("The reply sweeper could not settle stale replies")
        finally:
            release_connection()
        time.sleep(interval)


def drain(timeout: float) -> int:
    """
    Give this process's live replies up to ``timeout`` seconds to finish,
    then interrupt the rest (their text is kept). Returns how many were
    interrupted. Used by the gunicorn config on a graceful shutdown.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    while _live and time.monotonic() < deadline:
        time.sleep(0.1)
    remaining = list(_live.values())
    for live in remaining:
        live.cancel(interrupted=True)
    # Their final writes take a moment.
    finish_by = time.monotonic() + 3
    while _live and time.monotonic() < finish_by:
        time.sleep(0.05)
    return len(remaining)


# --- The relay -------------------------------------------------------------------


class Relay:
    """
    The text of live replies in Redis: a key holding the text so far (pieces
    are appended) and a channel announcing each change. A follower
    subscribes first, then reads the key from its own offset, so it can
    never miss a piece.
    """

    TTL = 3600

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        # Message ids repeat across databases: several sites (or test runs)
        # sharing one Redis must not read each other's replies.
        self.prefix = f"aitre:{namespace}:reply:"

    def _key(self, message_id: int) -> str:
        return f"{self.prefix}{message_id}:text"

    def _channel(self, message_id: int) -> str:
        return f"{self.prefix}{message_id}"

    def push(self, message_id: int, piece: str, *, first: bool = False) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            if first:
                # Replace whatever a reply with the same id left behind.
                pipe.set(self._key(message_id), piece.encode(), ex=self.TTL)
            else:
                pipe.append(self._key(message_id), piece.encode())
                pipe.expire(self._key(message_id), self.TTL)
            pipe.publish(self._channel(message_id), b"+")
            pipe.execute()
        except Exception:
            logger.warning("Could not relay reply %s to Redis", message_id, exc_info=True)

    def finish(self, message_id: int) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.publish(self._channel(message_id), b"end")
            pipe.expire(self._key(message_id), 60)
            pipe.execute()
        except Exception:
            logger.warning("Could not relay the end of reply %s to Redis", message_id, exc_info=True)

    def follow(self, message_id: int) -> "RelayFollower":
        return RelayFollower(self, message_id)


class RelayFollower:
    def __init__(self, relay: Relay, message_id: int) -> None:
        self.relay = relay
        self.message_id = message_id
        self.pubsub = relay.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]  # redis-py's own hints stop here
        self.pubsub.subscribe(relay._channel(message_id))
        self.offset = 0  # in bytes of UTF-8

    def read(self) -> str | None:
        """The text past what was read, or None when Redis has none of it."""
        data = self.relay.redis.getrange(self.relay._key(self.message_id), self.offset, -1)
        if not data and self.offset == 0:
            return None
        self.offset += len(data)
        # Pieces are appended whole, so a read always ends on a character.
        return data if isinstance(data, str) else data.decode()

    def wait(self, timeout: float) -> Iterator[bytes]:
        message: Any = self.pubsub.get_message(timeout=timeout)
        while message is not None:
            yield message["data"]
            message = self.pubsub.get_message(timeout=0)

    def close(self) -> None:
        try:
            self.pubsub.close()
        except Exception:
            logger.debug("closing a Redis subscription failed", exc_info=True)


@cache
def _relay_for(url: str, database: tuple[str, str, str, str]) -> Relay:
    namespace = hashlib.sha256("|".join(database).encode()).hexdigest()[:12]
    return Relay(url, namespace)


def get_relay() -> Relay | None:
    """The relay, or None without REDIS_URL. Called for every piece of a reply: kept cheap."""
    if not settings.REDIS_URL:
        return None
    db = connection.settings_dict
    return _relay_for(settings.REDIS_URL, (db["ENGINE"], str(db.get("HOST")), str(db.get("PORT")), db["NAME"]))
