"""
A fake AITRE server on 127.0.0.1 that speaks the API's wire format.

The tests talk to it over real HTTP, so the client's streaming, timeouts and
error handling run for real. It reproduces the quirks of real
OpenAI-compatible servers, chosen per request by a *scenario*:

- ``ok``: a streamed reply (role chunk, content chunks, finish chunk, usage
  chunk when ``stream_options.include_usage`` asks for it, ``[DONE]``);
- ``no-usage``: never reports usage, whatever ``stream_options`` says;
- ``ping``: ``: ping`` comment lines between chunks;
- ``401``, ``404``, ``429`` (with Retry-After), ``500``, ``503``: OpenAI-shaped errors;
- ``detail``: a FastAPI-shaped ``{"detail": ...}`` error; ``500-text``: a plain-text 500;
- ``stream-error``: a 200 stream that carries an ``error`` object mid-way;
- ``cut``: the connection closes mid-reply, before ``[DONE]``;
- ``early-end``: the body ends properly mid-reply, with no finish and no ``[DONE]``;
- ``malformed``: a ``data:`` line that is not JSON;
- ``stall``: sends a little, then nothing (for idle timeouts);
- ``echo-key``: an error whose message echoes the bearer key back;
- ``fast``: the usual reply without the configured pacing.

Tests queue scenarios with ``server.script(...)``; otherwise a model named
``fake-<scenario>`` picks one, and anything else gets ``ok``. Any model name
is accepted and echoed, as some servers do. Every request is recorded.

Run alone (for ``make bench`` or a demo): ``python -m tests.fake_aitre --port 8765``.
"""

import sys

if __name__ == "__main__" and "--gevent" in sys.argv:
    # Before anything else imports socket or threading (see main's --gevent).
    from gevent import monkey

    monkey.patch_all()

import argparse
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_REPLY = (
    "Hello! Here is a small example:\n\n"
    '```python\ndef greet(name):\n    return f"Hello, {name}!"\n```\n\n'
    "It returns a **greeting** for `name`."
)
MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4o-image", "tts-1", "whisper-1", "text-embedding-3-large", "dall-e-3"]


def tokens_of(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    started: float
    ended: float | None = None
    # When the client went away before the reply was fully sent.
    disconnected: float | None = None
    sent_chunks: int = 0


@dataclass
class FakeState:
    reply: str = DEFAULT_REPLY
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    # The reply's pieces exactly as sent, when a test needs a server that
    # splits text its own way (a trailing space on each word, say).
    pieces: list[str] | None = None
    models: list[str] = field(default_factory=lambda: list(MODELS))
    queue: list[str] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    # The usage objects sent to clients, with the model named: what the API "billed".
    reported: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    server: "FakeAitre"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing -------------------------------------------------------------

    def _reported(self, model: str, usage: dict[str, int]) -> None:
        with self.server.state.lock:
            self.server.state.reported.append({"model": model, **usage})

    def _record(self, body: Any) -> Recorded:
        record = Recorded(self.command, self.path, dict(self.headers), body, time.monotonic())
        with self.server.state.lock:
            self.server.state.requests.append(record)
        return record

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(
            status,
            {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}},
            headers,
        )

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "").startswith("Bearer ")

    # --- endpoints ----------------------------------------------------------------

    def do_GET(self) -> None:
        record = self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            if not self._authorized():
                self._error(401, "Missing API key", "invalid_api_key")
            else:
                data = [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "aitre"}
                    for m in self.server.state.models
                ]
                self._send_json(200, {"object": "list", "data": data})
        else:
            self._error(404, "Unknown path", "not_found")
        record.ended = time.monotonic()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        record = self._record(body)
        try:
            if self.path != "/v1/chat/completions":
                self._error(404, "Unknown path", "not_found")
            elif not isinstance(body, dict):
                self._error(400, "We could not parse the JSON body of your request.", "invalid_json")
            elif not self._authorized():
                self._error(401, "You didn't provide an API key.", "invalid_api_key")
            else:
                self._chat(body, record)
        except (BrokenPipeError, ConnectionResetError):
            record.disconnected = time.monotonic()
        record.ended = time.monotonic()

    def _scenario(self, body: dict[str, Any]) -> str:
        with self.server.state.lock:
            if self.server.state.queue:
                return self.server.state.queue.pop(0)
        model = str(body.get("model") or "")
        return model[len("fake-") :] if model.startswith("fake-") else "ok"

    def _chat(self, body: dict[str, Any], record: Recorded) -> None:
        scenario = self._scenario(body)
        key = self.headers.get("Authorization", "")[len("Bearer ") :]
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
            self._error(status, message, code, headers)
            return
        if scenario == "detail":
            self._send_json(422, {"detail": "max_tokens must be a positive integer"})
            return
        if scenario == "500-text":
            payload = b"Internal Server Error"
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return

        state = self.server.state
        reply = state.reply
        # "fast": the same reply with no pacing (the benchmark's long-conversation case).
        first_token_delay = 0.0 if scenario == "fast" else state.first_token_delay
        token_delay = 0.0 if scenario == "fast" else state.token_delay
        if "max_tokens" not in body:
            # Like servers that generate until their context is full.
            reply = reply + " and on" * 2000
        pieces = list(state.pieces) if state.pieces is not None else tokens_of(reply)
        model = str(body.get("model") or "gpt-4o-mini")
        prompt_tokens = sum(len(str(m.get("content", ""))) // 4 + 1 for m in body.get("messages", []))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(pieces),
            "total_tokens": prompt_tokens + len(pieces),
        }
        response_id = f"chatcmpl-fake{int(time.time() * 1000)}"

        if not body.get("stream"):
            time.sleep(first_token_delay)
            self._send_json(
                200,
                {
                    "id": response_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                    ],
                    "usage": usage,
                },
            )
            self._reported(model, usage)
            return

        # As real servers stream: chunked transfer on a connection kept alive.
        # A failure mid-stream closes the connection without the last chunk.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(raw: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
            self.wfile.flush()

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
        for index, piece in enumerate(pieces):
            if scenario == "cut" and index == len(pieces) // 2:
                self.close_connection = True
                return
            if scenario == "early-end" and index == len(pieces) // 2:
                self.wfile.write(b"0\r\n\r\n")  # a proper end of body, but no finish and no [DONE]
                return
            if scenario == "stream-error" and index == len(pieces) // 2:
                send(b'data: {"error": {"message": "upstream provider overloaded", "type": "upstream_error"}}\n\n')
                self.close_connection = True
                return
            if scenario == "malformed" and index == len(pieces) // 2:
                send(b"data: {this is not json\n\n")
                self.close_connection = True
                return
            if scenario == "stall" and index == 3:
                time.sleep(30)  # longer than any idle timeout the tests set
            if scenario == "ping":
                send(b": ping\n\n")
            if token_delay:
                time.sleep(token_delay)
            chunk({"content": piece})
        chunk({}, finish="stop")
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
            self._reported(model, usage)
        send(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class FakeAitre(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 drops connections under load (a 1 s retransmit each).
    request_queue_size = 1024

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = FakeState()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "FakeAitre":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="fake-aitre")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def reset(self) -> None:
        with self.state.lock:
            fresh = FakeState()
            self.state.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "lock"})

    def script(self, *scenarios: str) -> None:
        """The next chat requests get these scenarios, in order."""
        with self.state.lock:
            self.state.queue.extend(scenarios)

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.state.requests if r.path == "/v1/chat/completions"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tokens", type=int, default=0, help="reply length in tokens (default: a short sample)")
    parser.add_argument("--rate", type=float, default=0, help="tokens per second (0: as fast as possible)")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first token")
    parser.add_argument("--gevent", action="store_true", help="serve each connection in a greenlet (for load)")
    args = parser.parse_args()
    server = FakeAitre(args.port)
    if args.tokens:
        server.state.reply = " ".join(f"word{i}" for i in range(args.tokens))
    server.state.token_delay = 1 / args.rate if args.rate else 0.0
    server.state.first_token_delay = args.first_token_delay
    print(f"fake AITRE listening on {server.base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
