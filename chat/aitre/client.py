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

from .errors import AitreError, error_for_status, redact
from .sse import DONE, iter_sse_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    owned_by: str = ""


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

    def _chunks(self) -> Iterator[bytes]:
        """
        Whatever bytes have arrived, chunked transfer or not. Servers send
        each token in its own packet; once text flows, a short pause now and
        then lets the socket gather several, so one receive (and one wake-up)
        serves many tokens, which is most of the cost of a stream. The first
        text is never held back.
        """
        raw = self.response.raw
        paused_at = 0.0
        # Cancelled also stops what is already buffered: shutdown only ends the socket.
        while not self.cancelled and (data := raw.read1(65536)):
            yield data
            # At most one pause an interval: a read returns one HTTP chunk, and
            # after a pause the chunks waiting in the buffer come without one.
            if self.read_interval and self._text_flows and time.monotonic() - paused_at >= self.read_interval:
                time.sleep(self.read_interval)
                paused_at = time.monotonic()

    def __iter__(self) -> Iterator[str]:
        ended = False
        try:
            for event in iter_sse_json(self._chunks()):
                if event is DONE:
                    ended = True
                    break
                text = self._take(event)
                if text:
                    yield text
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


class AitreClient:
    """One method per endpoint; every call has a timeout."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        stream_idle_timeout: float = 60.0,
        stream_read_interval: float = 0.0,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url:
            raise AitreError(
                _("No API is configured for this site. An administrator needs to set one."), permanent=True
            )
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.stream_idle_timeout = stream_idle_timeout
        self.stream_read_interval = stream_read_interval
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return f"AitreClient({self.base_url!r})"

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._key,)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _request(
        self, method: str, path: str, *, json_body: Any = None, stream: bool = False, read_timeout: float | None = None
    ) -> requests.Response:
        url = f"{self.base_url}{path}"
        timeout = (self.connect_timeout, read_timeout or self.read_timeout)
        try:
            response = self.session.request(
                method,
                url,
                data=None if json_body is None else json.dumps(json_body),
                headers=self._headers(),
                stream=stream,
                timeout=timeout,
            )
        except requests.Timeout as exc:
            raise AitreError(_("The API did not answer in time.")) from exc
        except requests.RequestException as exc:
            logger.warning("AITRE %s %s failed: %s", method, path, type(exc).__name__)
            raise AitreError(_("The site could not reach the API.")) from exc
        if response.status_code >= 400:
            try:
                body = response.content[:20_000]
            except requests.RequestException:
                body = b""
            finally:
                response.close()
            error = error_for_status(response.status_code, body, dict(response.headers), self._secrets)
            logger.warning("AITRE %s %s answered %s: %s", method, path, response.status_code, error.detail)
            raise error
        return response

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise AitreError(_("The API sent data the site could not read.")) from exc

    # --- GET /v1/models ------------------------------------------------------

    def list_models(self) -> list[ModelInfo]:
        data = self._json(self._request("GET", "/v1/models", read_timeout=15))
        items = data.get("data") if isinstance(data, dict) else data
        models = []
        for item in items or ():
            if isinstance(item, dict) and item.get("id"):
                models.append(ModelInfo(str(item["id"]), str(item.get("owned_by") or "")))
            elif isinstance(item, str):
                models.append(ModelInfo(item))
        return sorted(set(models), key=lambda m: m.id)

    # --- POST /v1/chat/completions -------------------------------------------

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
        body = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        response = self._request(
            "POST", "/v1/chat/completions", json_body=body, stream=True, read_timeout=self.stream_idle_timeout
        )
        content_type = response.headers.get("Content-Type", "")
        if "json" in content_type and "event-stream" not in content_type:
            # A server that ignores "stream" answers in one piece; or an error.
            data = self._json(response)
            if isinstance(data, dict) and data.get("error"):
                raise error_for_status(502, json.dumps(data), {}, self._secrets)
            raise AitreError(_("The API answered without streaming."), detail=str(content_type))
        return ChatStream(response=response, secrets=self._secrets, read_interval=self.stream_read_interval)
