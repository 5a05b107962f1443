"""
POST /v1/chat/completions, whole or streamed, with the quirks of real
OpenAI-compatible servers, chosen per request by a *scenario*:

- ``ok``: a streamed reply (role chunk, content chunks, finish chunk, usage
  chunk when ``stream_options.include_usage`` asks for it, ``[DONE]``);
- ``no-usage``: never reports usage, whatever ``stream_options`` says;
- ``ping``: ``: ping`` comment lines between chunks;
- ``401``, ``404``, ``429`` (with Retry-After), ``quota``, ``500``, ``503``: OpenAI-shaped errors;
- ``detail``: a FastAPI-shaped ``{"detail": ...}`` error; ``500-text``: a plain-text 500;
- ``stream-error``: a 200 stream that carries an ``error`` object mid-way;
- ``cut``: the connection closes mid-reply, before ``[DONE]``;
- ``early-end``: the body ends properly mid-reply, with no finish and no ``[DONE]``;
- ``malformed``: a ``data:`` line that is not JSON;
- ``stall``: sends a little, then nothing (for idle timeouts);
- ``linger``: the whole reply and ``[DONE]``, then the body stays open;
- ``echo-key``: an error whose message echoes the bearer key back;
- ``fast``: the usual reply without the configured pacing;
- ``slow``: the usual reply paced at ``state.slow_token_delay`` (the benchmark's held streams);
- ``words-N``: a reply of N words at the configured pacing (the benchmark's long replies);
- ``picture`` (and any ``gpt-4o-image`` request): a gateway's picture reply, progress
  lines then a Markdown image link and a download link to the file host (pictures.py);
  ``picture-expired``: the link has already expired; ``picture-private``: it points
  at a private address; ``silent``: nothing at all, not even the status line, until the
  client goes; ``picture-failed``: progress, then the gateway's failure line and
  no picture at all.

Image parts are checked as a vision server checks them: an https URL, or a
base64 data URL that decodes as an image; anything else is a 400.

Tests queue scenarios with ``server.script(...)``; otherwise a model named
``fake-<scenario>`` picks one, and anything else gets ``ok``. Any model name
is accepted and echoed, as some servers do; with ``state.serves`` the server
answers every name with its own model, as a llama.cpp server does.

A reply stops at ``max_tokens`` pieces with ``finish_reason: "length"``.
With ``state.context``, a prompt over the server's context is answered as
``state.overflow`` says (a 400, an error event, or an empty stream).
"""

import base64
import io
import json
import select
import time
from typing import TYPE_CHECKING, Any

from PIL import Image

from . import pictures, tokens
from .state import Recorded, tokens_of

if TYPE_CHECKING:
    from .server import Handler


def scenario_of(handler: "Handler", body: dict[str, Any]) -> str:
    with handler.server.state.lock:
        if handler.server.state.queue:
            return handler.server.state.queue.pop(0)
    model = str(body.get("model") or "")
    return model[len("fake-") :] if model.startswith("fake-") else "ok"


def image_problem(body: dict[str, Any]) -> str:
    """What a vision server says of an image part it cannot use (it decodes every data URL)."""
    for message in body.get("messages") or []:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict) or part.get("type") != "image_url":
                continue
            url = str((part.get("image_url") or {}).get("url") or "")
            if url.startswith("https://"):
                continue
            header, _comma, data = url.partition(",")
            if not (header.startswith("data:image/") and header.endswith(";base64")):
                return "Invalid image_url: expected an https URL or a base64 data URL."
            try:
                Image.open(io.BytesIO(base64.b64decode(data, validate=True))).verify()
            except Exception:
                return "Invalid image data."
    return ""


def picture_reply(handler: "Handler", body: dict[str, Any], scenario: str) -> str:
    """A gateway's gpt-4o-image reply: the prompt echoed, progress, then the picture linked twice."""
    lifetime = -60.0 if scenario == "picture-expired" else handler.server.state.picture_lifetime
    url = pictures.url_for(handler, f"gen{len(handler.server.state.requests)}.png", lifetime)
    if scenario == "picture-private":
        url = "https://10.0.0.7/gen.png"
    if scenario == "picture-failed":
        return "> Queuing…\n\n> Generating… 38\n\n> 生成失败 ❌\n\n失败原因：内容违反使用政策 (content policy)"
    return (
        '```json\n{"prompt": "a war cat", "ratio": "1:1"}\n```\n\n> Queuing…\n\n> Generating… 100\n\n> Done\n\n'
        f"![gen_01]({url})\n\n[Download]({url})"
    )


def completions(handler: "Handler", body: dict[str, Any], record: Recorded) -> None:
    scenario = scenario_of(handler, body)
    key = handler.headers.get("Authorization", "")[len("Bearer ") :]
    errors = {
        "401": (401, "Incorrect API key provided.", "invalid_api_key", {}),
        "404": (404, f"The model `{body.get('model')}` does not exist.", "model_not_found", {}),
        "429": (429, "Rate limit reached for requests.", "rate_limit_exceeded", {"Retry-After": "7"}),
        "quota": (429, "You exceeded your current quota.", "insufficient_quota", {}),
        "500": (500, "The server had an error while processing your request.", "server_error", {}),
        "503": (503, "No available channel for this model.", "", {}),
        "echo-key": (401, f"Incorrect API key provided: {key}.", "invalid_api_key", {}),
    }
    if scenario in errors:
        status, message, code, headers = errors[scenario]
        handler._error(status, message, code, headers)
        return
    if scenario == "detail":
        handler._send_json(422, {"detail": "max_tokens must be a positive integer"})
        return
    if scenario == "500-text":
        payload = b"Internal Server Error"
        handler.send_response(500)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
        return

    problem = image_problem(body)
    if problem:
        handler._error(400, problem, "invalid_image_url")
        return

    state = handler.server.state
    reply = state.reply
    if scenario.startswith("picture") or (body.get("model") == "gpt-4o-image" and scenario == "ok"):
        reply = picture_reply(handler, body, scenario)
    # "fast": the same reply with no pacing (the benchmark's long-conversation case).
    first_token_delay = 0.0 if scenario == "fast" else state.first_token_delay
    token_delay = 0.0 if scenario == "fast" else state.token_delay
    if scenario == "slow":
        token_delay = state.slow_token_delay
    if scenario.startswith("words-") and scenario[len("words-") :].isdigit():
        reply = " ".join(f"word{i}" for i in range(int(scenario[len("words-") :])))
    if "max_tokens" not in body:
        # Like servers that generate until their context is full.
        reply = reply + " and on" * 2000
    pieces = list(state.pieces) if state.pieces is not None else tokens_of(reply)
    finish = "stop"
    limit = body.get("max_tokens")
    if isinstance(limit, int) and 0 < limit < len(pieces):
        pieces, finish = pieces[:limit], "length"
    model = state.serves or str(body.get("model") or "gpt-4o-mini")
    messages = body.get("messages", [])
    if state.real_counts or state.context:
        prompt_tokens = tokens.count_prompt(messages)
    else:
        prompt_tokens = sum(len(str(m.get("content", ""))) // 4 + 1 for m in messages)
    completion_tokens = tokens.count("".join(pieces)) if state.real_counts else len(pieces)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    over_context = state.context is not None and prompt_tokens > state.context
    if over_context and state.overflow == "400":
        # llama.cpp's own words.
        handler._send_json(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": prompt_tokens,
                    "n_ctx": state.context,
                }
            },
        )
        return
    response_id = f"chatcmpl-fake{int(time.time() * 1000)}"

    if not body.get("stream"):
        time.sleep(first_token_delay)
        handler._send_json(
            200,
            {
                "id": response_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "".join(pieces)}, "finish_reason": finish}
                ],
                "usage": usage,
            },
        )
        handler._reported(model, usage)
        return

    if scenario == "silent":
        # A gateway that says nothing, not even its status line, until the model begins:
        # here until the client goes (its end of the socket reads as closed), at most 30 s.
        readable, _, _ = select.select([handler.connection], [], [], 30)
        if readable:
            record.disconnected = time.monotonic()
        handler.close_connection = True
        return

    # As real servers stream: chunked transfer on a connection kept alive.
    # A failure mid-stream closes the connection without the last chunk.
    handler.start_event_stream()
    send = handler.send_chunk

    def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
        data = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        send(f"data: {json.dumps(data)}\n\n".encode())
        record.sent_chunks += 1

    time.sleep(first_token_delay)
    chunk({"role": "assistant", "content": ""})
    if over_context:
        if state.overflow == "error-event":
            error = {"error": {"message": "Prompt is too long for the context window", "type": "invalid_request_error"}}
            send(f"data: {json.dumps(error)}\n\n".encode())
        else:
            send(b"data: [DONE]\n\n")  # an empty stream: no text, no finish
        handler.end_chunks()
        return
    for index, piece in enumerate(pieces):
        if scenario == "cut" and index == len(pieces) // 2:
            handler.close_connection = True
            return
        if scenario == "early-end" and index == len(pieces) // 2:
            handler.wfile.write(b"0\r\n\r\n")  # a proper end of body, but no finish and no [DONE]
            return
        if scenario == "stream-error" and index == len(pieces) // 2:
            send(b'data: {"error": {"message": "upstream provider overloaded", "type": "upstream_error"}}\n\n')
            handler.close_connection = True
            return
        if scenario == "malformed" and index == len(pieces) // 2:
            send(b"data: {this is not json\n\n")
            handler.close_connection = True
            return
        if scenario == "stall" and index == 3:
            time.sleep(30)  # longer than any idle timeout the tests set
        if scenario == "ping":
            send(b": ping\n\n")
        if state.hold is not None and index == state.hold_after:
            state.hold.wait(30)
        if token_delay:
            time.sleep(token_delay)
        chunk({"content": piece})
    chunk({}, finish=finish)
    if (body.get("stream_options") or {}).get("include_usage") and scenario != "no-usage":
        data = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": usage,
        }
        send(f"data: {json.dumps(data)}\n\n".encode())
        handler._reported(model, usage)
    send(b"data: [DONE]\n\n")
    if scenario == "linger":
        time.sleep(30)  # longer than the client waits for the end of the body
        handler.close_connection = True
        return
    handler.end_chunks()
