"""POST /v1/chat/completions, whole or streamed."""

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from django.utils.translation import gettext as _

from .base import BaseClient
from .errors import AitreError, error_for_status, redact
from .sse import DONE, iter_sse_json_batches
from .wire import BodyReader

logger = logging.getLogger("aitre.client")

# After [DONE] the end of the body follows at once; it is waited for this long
# at most, then the connection is closed rather than reused.
DRAIN_SECONDS = 1.0


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_api(cls, data: Any) -> "Usage | None":
        if not isinstance(data, dict):
            return None
        try:
            prompt = int(data.get("prompt_tokens") or 0)
            completion = int(data.get("completion_tokens") or 0)
            total = int(data.get("total_tokens") or prompt + completion)
        except (TypeError, ValueError):
            return None
        return cls(prompt, completion, total)


@dataclass
class ChatResult:
    text: str
    finish_reason: str
    model: str
    response_id: str
    usage: Usage | None


@dataclass
class ChatStream:
    """
    A streamed chat completion. Iterate it for text pieces; once exhausted,
    ``finish_reason``, ``usage``, ``model`` and ``response_id`` hold what the
    server said. ``cancel()`` may be called from another thread or greenlet:
    it closes the upstream connection at once, even while a read is blocked.
    """

    response: requests.Response
    # Kept out of repr(): a stream object in a traceback must not show them.
    secrets: tuple[str, ...] = field(repr=False)
    # Seconds to wait between reads once text flows (see _chunks).
    read_interval: float = 0.0
    finish_reason: str = ""
    model: str = ""
    response_id: str = ""
    usage: Usage | None = None
    cancelled: bool = False
    _text_flows: bool = field(default=False, repr=False)
    _body: BodyReader = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._body = BodyReader(self.response.raw)

    def _chunks(self) -> Iterator[bytes]:
        """
        Whatever bytes have arrived, in bulk (see ``wire``). Servers send
        each token in its own packet, and waking up for each is most of what
        a stream costs. So while tokens come faster than the read interval,
        the stream sleeps an interval, takes everything that arrived
        meanwhile without waiting, as one piece, and sleeps again: one
        wake-up an interval however fast they come. Slower tokens are read
        as they arrive (sleeping first would only add a wake-up each), and
        so is the first text, which is never held back.
        """
        body = self._body
        interval = self.read_interval
        last_read = -interval
        # Cancelled also stops what is already buffered: shutdown only ends the socket.
        while not self.cancelled and (data := body.read()):
            now = time.monotonic()
            fast, last_read = now - last_read < interval, now
            yield data
            while fast and self._text_flows and not self.cancelled:
                time.sleep(interval)
                if not body.waiting():
                    break
                arrived = []
                try:
                    while body.waiting() and not self.cancelled and (data := body.read()):
                        arrived.append(data)
                except Exception:
                    yield b"".join(arrived)  # what came before a failure is read first: it may say why
                    raise
                last_read = time.monotonic()
                yield b"".join(arrived)  # one piece for the interval, not one a token

    def __iter__(self) -> Iterator[str]:
        """The text of the events each read brought, joined: one piece a read, not one a token."""
        ended = False
        try:
            for events in iter_sse_json_batches(self._chunks()):
                pieces = []
                for event in events:
                    if event is DONE:
                        ended = True
                        break
                    try:
                        pieces.append(self._take(event))
                    except (AitreError, ValueError):
                        if any(pieces):
                            yield "".join(pieces)  # what came before the error is the reply's
                        raise
                if text := "".join(pieces):
                    yield text
                if ended:
                    break
            if ended and not self.cancelled:
                self._drain()
        except ValueError as exc:
            if self.cancelled:
                return
            raise AitreError(
                _("The API sent data the site could not read."), detail=redact(str(exc)[:200], self.secrets)
            ) from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, AttributeError) as exc:
            # AttributeError: http.client's own close racing a shutdown socket.
            if self.cancelled:
                return
            if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
                raise AitreError(_("The API stopped sending for too long; the reply was cut off.")) from exc
            raise AitreError(_("The connection to the API broke off in the middle of the reply.")) from exc
        finally:
            self.response.close()
        if not ended and not self.cancelled and not self.finish_reason:
            raise AitreError(_("The API ended the reply before it was complete."))

    def _drain(self) -> None:
        """
        Read the body's end after [DONE]: the connection then goes back to
        the pool, and the next call skips a new connection (a TLS handshake
        and a round trip or two against a real endpoint). Usually the end
        came with [DONE]. A server slow to end the body gets its connection
        closed instead.
        """
        body = self._body
        if body.ended:
            return
        sock = getattr(self.response.raw.connection, "sock", None)
        if sock is None:
            return
        previous = sock.gettimeout()
        try:
            sock.settimeout(DRAIN_SECONDS)
            for _ in range(16):
                if not body.read():
                    # Back in the pool: the next request sends with the timeout it had.
                    sock.settimeout(previous)
                    return
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError):
            pass

    def _take(self, event: Any) -> str:
        if not isinstance(event, dict):
            raise ValueError("event is not an object")
        if event.get("error"):
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise AitreError(
                _("The API reported an error in the middle of the reply: %(detail)s")
                % {"detail": redact(str(message or ""), self.secrets)[:300]},
                detail=redact(str(message or ""), self.secrets),
            )
        self.response_id = self.response_id or str(event.get("id") or "")
        self.model = self.model or str(event.get("model") or "")
        usage = Usage.from_api(event.get("usage"))
        if usage:
            self.usage = usage
        text = []
        for choice in event.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                text.append(delta["content"])
                self._text_flows = self._text_flows or bool(delta["content"])
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        return "".join(text)

    def cancel(self) -> None:
        self.cancelled = True
        # shutdown, not close: it wakes a read blocked in another thread,
        # which then closes the response itself (closing it from here would
        # race with that read). The errors mean it already finished.
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            self.response.raw.shutdown()


class ChatCompletions(BaseClient):
    def chat(self, payload: dict[str, Any]) -> ChatResult:
        started = time.monotonic()
        data = self._json(self._request("POST", "/v1/chat/completions", json_body={**payload, "stream": False}))
        if not isinstance(data, dict):
            raise AitreError(_("The API sent data the site could not read."))
        if data.get("error"):
            raise error_for_status(502, json.dumps(data), {}, self._secrets)
        choices = data.get("choices") or [{}]
        choice = choices[0] if isinstance(choices[0], dict) else {}
        message = choice.get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        logger.info("AITRE chat done in %.0f ms", (time.monotonic() - started) * 1000)
        return ChatResult(
            text=content if isinstance(content, str) else "",
            finish_reason=str(choice.get("finish_reason") or "stop"),
            model=str(data.get("model") or payload.get("model") or ""),
            response_id=str(data.get("id") or ""),
            usage=Usage.from_api(data.get("usage")),
        )

    def stream_chat(self, payload: dict[str, Any]) -> ChatStream:
        response = self._event_stream("/v1/chat/completions", payload)
        return ChatStream(response=response, secrets=self._secrets, read_interval=self.stream_read_interval)
