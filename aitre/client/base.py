"""
What every endpoint family shares: the session and its pool, timeouts, the
key (never in a repr, a log line or an error), and turning a failed answer
into an ``AitreError``.
"""

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any

import requests
from django.utils.translation import gettext as _
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError

from .errors import AitreError, error_for_status

logger = logging.getLogger("aitre.client")


class Call:
    """
    A call that another thread may end at once (Stop), whatever phase it is
    in: connecting, waiting for the server's first byte (a gateway can stay
    silent for a minute), or reading. Made by the caller, bound to the
    connection the call is sent on (see ``cancellable``); ``cancel`` shuts
    that connection, so the blocked read fails at once and the server sees
    the client go.
    """

    def __init__(self) -> None:
        self.cancelled = False
        self._connection: HTTPConnection | None = None
        self._lock = threading.Lock()

    def bind(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.cancelled:
                _shut(connection)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._connection is not None:
                _shut(self._connection)


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


# The call this thread (or greenlet) is making, for the connection to bind itself to.
_current = threading.local()


@contextmanager
def cancellable(call: Call) -> Iterator[Call]:
    """The calls made inside this block, in this thread, are ended by ``call.cancel()``."""
    _current.call = call
    try:
        yield call
    finally:
        _current.call = None


class _BindsToCall:
    """A connection that tells the call being made which connection carries it."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        call: Call | None = getattr(_current, "call", None)
        if call is not None:
            assert isinstance(self, HTTPConnection)
            call.bind(self)
            if call.cancelled:  # before a connection was made: none is
                raise ConnectionAbortedError("The call was cancelled.")
        super().request(*args, **kwargs)  # type: ignore[misc]


class _Connection(_BindsToCall, HTTPConnection):
    pass


class _TLSConnection(_BindsToCall, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class _Adapter(requests.adapters.HTTPAdapter):
    """The usual adapter, whose connections can be ended by a ``Call``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


@cache
def shared_session() -> requests.Session:
    """
    One HTTP session per process: connections to the API are reused rather
    than opened for every call (each new one is a TLS handshake). Sized for
    as many replies at once as a worker holds connections (gunicorn's
    worker_connections): a smaller pool discards connections under load.
    """
    session = requests.Session()
    adapter = _Adapter(pool_connections=4, pool_maxsize=1024)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _may_have_arrived(exc: requests.RequestException) -> bool:
    """
    Whether a request that failed may have reached the server: a refused or
    unresolved connection never sent a byte; a connection cut after sending
    may have started (and billed) the work.
    """
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    never_connected = isinstance(reason, NewConnectionError | NameResolutionError) or isinstance(
        exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
    )
    return not never_connected


class BaseClient:
    """The transport under every endpoint family; every call has a timeout."""

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
        return f"{type(self).__name__}({self.base_url!r})"

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._key,)

    def _headers(self, accept: str = "application/json", json_body: bool = True) -> dict[str, str]:
        headers = {"Accept": accept}
        if json_body:
            headers["Content-Type"] = "application/json"
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        accept: str = "application/json",
        stream: bool = False,
        read_timeout: float | None = None,
    ) -> requests.Response:
        """
        One call: a JSON body, or (``form`` and ``files``) a multipart one,
        whose boundary requests writes into the Content-Type itself.
        """
        url = f"{self.base_url}{path}"
        timeout = (self.connect_timeout, read_timeout or self.read_timeout)
        multipart = files is not None
        try:
            response = self.session.request(
                method,
                url,
                data=form if multipart else None if json_body is None else json.dumps(json_body),
                files=files,
                headers=self._headers(accept, json_body=not multipart),
                stream=stream,
                timeout=timeout,
            )
        except requests.Timeout as exc:
            raise AitreError(
                _("The API did not answer in time."), unanswered=not isinstance(exc, requests.ConnectTimeout)
            ) from exc
        except requests.RequestException as exc:
            logger.warning("AITRE %s %s failed: %s", method, path, type(exc).__name__)
            raise AitreError(_("The site could not reach the API."), unanswered=_may_have_arrived(exc)) from exc
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

    def _event_stream(self, path: str, payload: dict[str, Any]) -> requests.Response:
        """
        POST ``payload`` asking for a stream (with its usage at the end), and
        make sure one came: a server that ignores "stream" answers in one
        piece, or answers an error as JSON.
        """
        body = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        response = self._request("POST", path, json_body=body, stream=True, read_timeout=self.stream_idle_timeout)
        content_type = response.headers.get("Content-Type", "")
        if "json" in content_type and "event-stream" not in content_type:
            data = self._json(response)
            if isinstance(data, dict) and data.get("error"):
                raise error_for_status(502, json.dumps(data), {}, self._secrets)
            raise AitreError(_("The API answered without streaming."), detail=str(content_type))
        return response

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise AitreError(_("The API sent data the site could not read.")) from exc
