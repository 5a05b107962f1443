"""
POST /v1/completions (§9): text continued, whole or streamed. Streamed
chunks are ``text_completion`` objects whose choices carry ``text`` instead
of a ``delta``; with ``n`` above one, the choices of every index arrive
interleaved, each kept apart.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from .base import BaseClient
from .chat import ChatStream, Usage
from .errors import AitreError, error_for_status, redact


@dataclass
class Choice:
    text: str = ""
    finish_reason: str = ""
    # OpenAI's legacy shape: tokens, token_logprobs, top_logprobs, text_offset.
    logprobs: dict[str, list[Any]] = field(default_factory=dict)

    def take(self, choice: dict[str, Any]) -> str:
        raw = choice.get("text")
        text = raw if isinstance(raw, str) else ""
        self.text += text
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict):
            for key in ("tokens", "token_logprobs", "top_logprobs"):
                values = logprobs.get(key)
                if isinstance(values, list):
                    self.logprobs.setdefault(key, []).extend(values)
        return text


@dataclass
class CompletionResult:
    choices: list[Choice]
    model: str
    response_id: str
    usage: Usage | None


@dataclass
class CompletionStream(ChatStream):
    """
    Iterated for the first choice's text, as a chat stream is; every
    choice's text, finish and log probabilities are in ``choices``.
    """

    choices: dict[int, Choice] = field(default_factory=dict)

    def _take(self, event: Any) -> str:
        if not isinstance(event, dict):
            raise ValueError("event is not an object")
        if event.get("error"):
            error = event["error"]
            message = redact(str(error.get("message") if isinstance(error, dict) else error), self.secrets)
            raise AitreError(
                _("The API reported an error in the middle of the completion: %(detail)s") % {"detail": message[:300]},
                detail=message,
            )
        self.response_id = self.response_id or str(event.get("id") or "")
        self.model = self.model or str(event.get("model") or "")
        usage = Usage.from_api(event.get("usage"))
        if usage:
            self.usage = usage
        first = []
        for raw in event.get("choices") or ():
            if not isinstance(raw, dict) or not isinstance(raw.get("index", 0), int):
                continue
            index = raw.get("index", 0)
            text = self.choices.setdefault(index, Choice()).take(raw)
            if index == 0:
                first.append(text)
                self._text_flows = self._text_flows or bool(text)
            if raw.get("finish_reason") and index == 0:
                self.finish_reason = str(raw["finish_reason"])
        # The other choices are read from ``choices`` whenever the first one moves.
        return "".join(first)

    def ordered(self) -> list[Choice]:
        return [self.choices[index] for index in sorted(self.choices)]


class CompletionEndpoints(BaseClient):
    def complete(self, payload: dict[str, Any]) -> CompletionResult:
        data = self._json(self._request("POST", "/v1/completions", json_body={**payload, "stream": False}))
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            if isinstance(data, dict) and data.get("error"):
                raise error_for_status(502, json.dumps(data), {}, self._secrets)
            raise AitreError(_("The API sent data the site could not read."))
        choices: dict[int, Choice] = {}
        for position, raw in enumerate(data["choices"]):
            if isinstance(raw, dict):
                index = raw.get("index", position)
                choices.setdefault(index if isinstance(index, int) else position, Choice()).take(raw)
        return CompletionResult(
            choices=[choices[i] for i in sorted(choices)],
            model=str(data.get("model") or payload.get("model") or ""),
            response_id=str(data.get("id") or ""),
            usage=Usage.from_api(data.get("usage")),
        )

    def stream_completion(self, payload: dict[str, Any]) -> CompletionStream:
        response = self._event_stream("/v1/completions", payload)
        return CompletionStream(response=response, secrets=self._secrets, read_interval=self.stream_read_interval)
