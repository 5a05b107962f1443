"""
A streamed response body, read in bulk.

Servers send each token of a reply as its own HTTP chunk. Read through
urllib3 and http.client, every chunk costs a dozen Python calls (a size
line, the data, its line end, each through a buffered reader, a socket
wrapper and urllib3's error handling): measured under load, that was a
third of the CPU a reply costs the site. ``BodyReader`` takes whatever the
socket's buffer holds at once (after a pause, many chunks) and undoes the
chunked framing itself, in one pass over the bytes.

At the end of the body it closes http.client's response and gives the
connection back to urllib3's pool, exactly as http.client does once it has
read a body's last chunk, so the next call reuses the connection. Bodies it
cannot read this way (not chunked, or compressed) are read through urllib3
as before.
"""

import select
from collections.abc import Callable
from functools import cache
from typing import Any

# A chunk-size line (with extensions) or a trailer line longer than this is not HTTP.
MAX_LINE = 4096


class ChunkedDecoder:
    """The payload of a chunked transfer, fed in pieces cut anywhere."""

    _SIZE, _DATA, _DATA_END, _TRAILER = range(4)

    def __init__(self) -> None:
        self._state = self._SIZE
        self._left = 0  # bytes of the current chunk still to come
        self._pending = b""  # an incomplete line
        self.ended = False

    def feed(self, data: bytes) -> bytes:
        """The payload bytes in ``data``; raises ValueError on broken framing."""
        buffer = self._pending + data if self._pending else data
        self._pending = b""
        out: list[bytes] = []
        position, size = 0, len(buffer)
        while position < size and not self.ended:
            if self._state == self._DATA:
                end = min(size, position + self._left)
                out.append(buffer[position:end])
                self._left -= end - position
                position = end
                if not self._left:
                    self._state = self._DATA_END
                continue
            newline = buffer.find(b"\n", position)
            if newline < 0:
                self._pending = buffer[position:]
                if len(self._pending) > MAX_LINE:
                    raise ValueError("a chunk line is too long")
                break
            line = buffer[position:newline].rstrip(b"\r")
            position = newline + 1
            if self._state == self._DATA_END:
                if line:
                    raise ValueError("a chunk is longer than its size")
                self._state = self._SIZE
            elif self._state == self._SIZE:
                self._left = int(line.split(b";", 1)[0].strip(), 16)
                if self._left < 0:
                    raise ValueError("a negative chunk size")
                self._state = self._DATA if self._left else self._TRAILER
            elif not line:  # the empty line after the trailers
                self.ended = True
        return b"".join(out)


@cache
def _select_now() -> Callable[..., Any]:
    """
    The operating system's select, for a look that never waits: under
    gevent the patched one would yield to the loop, which is the very
    wake-up ``BodyReader.waiting`` exists to save.
    """
    try:
        from gevent import monkey
    except ImportError:
        return select.select
    if monkey.is_module_patched("select"):
        original: Callable[..., Any] = monkey.get_original("select", "select")
        return original
    return select.select


class BodyReader:
    """
    ``read()`` returns what has arrived of the body (waiting for something
    if nothing has), b"" at its end; ``waiting()`` says, without waiting,
    whether ``read()`` would find something at once.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        original = getattr(raw, "_original_response", None)
        self._file: Any = getattr(original, "fp", None)
        encoding = str(raw.headers.get("Content-Encoding", "identity")).lower()
        bulk = bool(getattr(original, "chunked", False)) and self._file is not None and encoding == "identity"
        self._decoder = ChunkedDecoder() if bulk else None
        self.ended = False

    def read(self, size: int = 65536) -> bytes:
        if self._decoder is None:
            data = self.raw.read1(size)
            self.ended = not data
            return bytes(data)
        while not self.ended:
            data = self._file.read1(size)
            if not data:
                raise ConnectionError("the connection closed before the end of the body")
            payload = self._decoder.feed(data)
            if self._decoder.ended:
                self._give_back()
            if payload:
                return payload
        return b""

    def waiting(self) -> bool:
        """
        Bytes have arrived since the last read. Each read takes all the
        buffered reader holds, and a TLS record whole, so what is left to
        read is in the socket.
        """
        if self.ended:
            return False
        try:
            readable, _, _ = _select_now()([self._fileno()], [], [], 0)
        except (OSError, ValueError):
            return True  # let read() meet the error
        return bool(readable)

    def _fileno(self) -> int:
        return int(self._file.fileno() if self._decoder is not None else self.raw.fileno())

    def _give_back(self) -> None:
        """The body is read whole: the connection can serve the next call."""
        self.ended = True
        self.raw._original_response.close()  # the socket stays open; only its file closes
        self.raw.release_conn()
