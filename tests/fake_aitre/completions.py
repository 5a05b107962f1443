"""
POST /v1/completions (§9), whole or streamed as ``text_completion`` chunks.

The completion is ``state.completion`` (its words, one token each), cut at
``max_tokens`` (16 when unsaid, as OpenAI's default) with finish "length",
or at the first ``stop`` sequence with finish "stop". ``echo`` puts the
prompt in front; ``n`` gives that many choices, choice *i* ending in
" (i)" so tests can tell them apart; ``logprobs`` (0 to 5) adds OpenAI's
legacy log-probability lists. Parameters outside their ranges are a 400,
in OpenAI's words. A model named ``fake-<scenario>`` picks one: ``429``,
``500``, ``cut`` (the connection closes half-way), ``slow`` (paced at
``state.slow_token_delay``).
"""

import json
import time
from typing import TYPE_CHECKING, Any

from .state import Recorded, tokens_of

if TYPE_CHECKING:
    from .server import Handler

RANGES = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
    "logprobs": (0, 5),
    "n": (1, 128),
    "max_tokens": (1, 100_000),
}


def _problem(body: dict[str, Any]) -> str:
    if not isinstance(body.get("prompt"), str | list):
        return "You must provide a prompt."
    for name, (low, high) in RANGES.items():
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            return f"{value!r} is not valid for '{name}': it must be between {low} and {high}."
    stop = body.get("stop")
    if stop is not None and not (isinstance(stop, str) or (isinstance(stop, list) and len(stop) <= 4)):
        return "'stop' must be a string or an array of at most 4 strings."
    return ""


def _choice_text(base: str, index: int, n: int) -> str:
    return base + (f" ({index})" if n > 1 else "")


def _cut(pieces: list[str], stop: Any, limit: int) -> tuple[list[str], str]:
    """The pieces sent, and why they end: at a stop sequence, or at max_tokens."""
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str) and s]
    text = ""
    for count, piece in enumerate(pieces):
        if count == limit:
            return pieces[:count], "length"
        candidate = text + piece
        hits = [candidate.find(s) for s in stops if s in candidate]
        if hits:
            kept = candidate[: min(hits)]
            return [*pieces[:count], kept[len(text) :]], "stop"
        text = candidate
    return pieces, "stop"


def _logprobs(pieces: list[str], top: int | None) -> dict[str, Any] | None:
    if top is None:
        return None
    return {
        "tokens": pieces,
        "token_logprobs": [round(-0.05 * (len(piece) % 7), 4) for piece in pieces],
        "top_logprobs": [
            {piece: -0.05 * (len(piece) % 7), **{f" alt{k}": -1.0 - k for k in range(top - 1)}} for piece in pieces
        ]
        if top
        else None,
        "text_offset": [],
    }


def completions(handler: "Handler", body: dict[str, Any], record: Recorded) -> None:
    state = handler.server.state
    model = str(body.get("model") or "")
    scenario = model[len("fake-") :] if model.startswith("fake-") else "ok"
    if scenario == "429":
        handler._error(429, "Rate limit reached for requests.", "rate_limit_exceeded", {"Retry-After": "3"})
        return
    if scenario == "500":
        handler._error(500, "The server had an error while processing your request.", "server_error")
        return
    problem = _problem(body)
    if problem:
        handler._error(400, problem, "invalid_request_error")
        return
    prompt = body["prompt"] if isinstance(body["prompt"], str) else "".join(map(str, body["prompt"]))
    n = int(body.get("n") or 1)
    limit = int(body.get("max_tokens") or 16)
    top = body.get("logprobs")
    choices = []
    for index in range(n):
        pieces, finish = _cut(tokens_of(_choice_text(state.completion, index, n)), body.get("stop"), limit)
        if body.get("echo"):
            pieces = [prompt, *pieces]
        choices.append((pieces, finish))
    prompt_tokens = len(tokens_of(prompt))
    completion_tokens = sum(len(pieces) - (1 if body.get("echo") else 0) for pieces, _ in choices)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    response_id = f"cmpl-fake{int(time.time() * 1000)}"

    if not body.get("stream"):
        handler._send_json(
            200,
            {
                "id": response_id,
                "object": "text_completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"text": "".join(pieces), "index": i, "logprobs": _logprobs(pieces, top), "finish_reason": finish}
                    for i, (pieces, finish) in enumerate(choices)
                ],
                "usage": usage,
            },
        )
        handler._reported(model, usage)
        return

    handler.start_event_stream()

    def send(data: dict[str, Any] | str) -> None:
        handler.send_chunk(f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode())
        record.sent_chunks += 1

    def chunk(index: int, text: str, finish: str | None, logprobs: Any = None) -> None:
        send(
            {
                "id": response_id,
                "object": "text_completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"text": text, "index": index, "logprobs": logprobs, "finish_reason": finish}],
            }
        )

    delay = state.slow_token_delay if scenario == "slow" else state.token_delay
    longest = max(len(pieces) for pieces, _ in choices)
    for step in range(longest):
        if scenario == "cut" and step == longest // 2:
            handler.close_connection = True
            return
        if delay:
            time.sleep(delay)
        for index, (pieces, _finish) in enumerate(choices):
            if step < len(pieces):
                chunk(index, pieces[step], None, _logprobs([pieces[step]], top))
    for index, (_pieces, finish) in enumerate(choices):
        chunk(index, "", finish)
    if (body.get("stream_options") or {}).get("include_usage"):
        send(
            {
                "id": response_id,
                "object": "text_completion",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
        handler._reported(model, usage)
    send("[DONE]")
    handler.end_chunks()
