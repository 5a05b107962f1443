"""
The fake server itself: a threaded HTTP server on 127.0.0.1, the plumbing
every endpoint family shares, and the table of routes. A new endpoint family
is a module beside ``chat.py`` and a row in ``ROUTES``.
"""

import json
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import audio, chat, completions, embeddings, images, midjourney, models, pictures
from .state import FakeState, Recorded


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

    def start_event_stream(self) -> None:
        """As real servers stream: chunked transfer on a connection kept alive."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_chunk(self, raw: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def stats(self) -> None:
        """For the benchmark: how many connections clients have opened."""
        self._send_json(200, {"connections": self.server.connections})

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "").startswith("Bearer ")

    def do_GET(self) -> None:
        self._route(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.headers.get("Content-Type", "").startswith("multipart/"):
            self._route(raw)
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self._route(body)

    def _route(self, body: Any) -> None:
        record = self._record(body)
        path = self.path.split("?")[0].rstrip("/")
        endpoint = ROUTES.get((self.command, path))
        try:
            if self.command == "GET" and (path.startswith("/fake/pictures/") or path == "/fake/redirect"):
                pictures.serve(self, body, record)
            elif self.command == "GET" and path.startswith("/mj/task/") and path.endswith("/fetch"):
                if not self._authorized():
                    self._error(401, "You didn't provide an API key.", "invalid_api_key")
                else:
                    midjourney.fetch(self, path.split("/")[3], record)
            elif endpoint is None:
                self._error(404, "Unknown path", "not_found")
            elif self.command == "POST" and path in MULTIPART:
                if not self._authorized():
                    self._error(401, "You didn't provide an API key.", "invalid_api_key")
                elif not isinstance(body, bytes):
                    self._error(400, "Expected a multipart/form-data body.", "invalid_request_error")
                else:
                    endpoint(self, body, record)
            elif self.command == "POST" and not isinstance(body, dict):
                self._error(400, "We could not parse the JSON body of your request.", "invalid_json")
            elif not self._authorized():
                self._error(401, "You didn't provide an API key.", "invalid_api_key")
            else:
                endpoint(self, body, record)
        except (BrokenPipeError, ConnectionResetError):
            record.disconnected = time.monotonic()
        record.ended = time.monotonic()


Endpoint = Callable[[Handler, Any, Recorded], None]
# (method, path) -> the endpoint family's handler.
ROUTES: dict[tuple[str, str], Endpoint] = {
    ("GET", "/v1/models"): models.listing,
    ("GET", "/props"): models.props,
    ("GET", "/fake/stats"): lambda handler, body, record: handler.stats(),
    ("POST", "/v1/chat/completions"): chat.completions,
    ("POST", "/v1/completions"): completions.completions,
    ("POST", "/v1/embeddings"): embeddings.embeddings,
    ("POST", "/v1/images/generations"): images.generations,
    ("POST", "/v1/audio/speech"): audio.speech,
    ("POST", "/v1/audio/transcriptions"): audio.transcriptions,
    ("POST", "/v1/audio/translations"): lambda handler, body, record: audio.transcriptions(
        handler, body, record, translate=True
    ),
    **{("POST", f"/mj/submit/{kind}"): midjourney.submitter(kind) for kind in midjourney.SUBMITS},
    ("POST", "/mj/submit/action"): midjourney.action,
    ("POST", "/mj/submit/modal"): midjourney.modal,
}
# Endpoints that take a multipart body (the raw bytes are passed on) rather than JSON.
MULTIPART = {"/v1/audio/transcriptions", "/v1/audio/translations"}


class FakeAitre(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 drops connections under load (a 1 s retransmit each).
    request_queue_size = 1024

    def __init__(self, port: int = 0, tls_dir: Path | None = None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = FakeState()
        self._thread: threading.Thread | None = None
        # Connections accepted since start: how well clients reuse theirs.
        self.connections = 0
        self.tls: ssl.SSLContext | None = None
        if tls_dir is not None:
            self.tls = self._certificate(tls_dir)

    @staticmethod
    def _certificate(tls_dir: Path) -> ssl.SSLContext:
        """
        HTTPS with a throwaway authority (trustme): its certificate is written
        to ``tls_dir/ca.pem`` for clients to trust; the key never leaves here.
        """
        import trustme

        authority = trustme.CA()
        authority.cert_pem.write_to_path(str(tls_dir / "ca.pem"))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context

    def get_request(self) -> tuple[Any, Any]:
        request = super().get_request()
        self.connections += 1
        return request

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake happens here, in the connection's own thread, not in the accept loop.
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

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

    def image_requests(self) -> list[Recorded]:
        return [r for r in self.state.requests if r.path == "/v1/images/generations"]

    def audio_requests(self, path: str = "/v1/audio/speech") -> list[Recorded]:
        return [r for r in self.state.requests if r.path == path]

    def mj_requests(self, path: str = "") -> list[Recorded]:
        """Midjourney calls: every one, or those to ``path`` ("/mj/submit/imagine"; "fetch" for every fetch)."""
        calls = [r for r in self.state.requests if r.path.startswith("/mj/")]
        if path == "fetch":
            return [r for r in calls if r.path.endswith("/fetch")]
        return [r for r in calls if not path or r.path == path]

    def embedding_requests(self) -> list[Recorded]:
        return [r for r in self.state.requests if r.path == "/v1/embeddings"]

    def completion_requests(self) -> list[Recorded]:
        return [r for r in self.state.requests if r.path == "/v1/completions"]

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.state.requests if r.path == "/v1/chat/completions"]
