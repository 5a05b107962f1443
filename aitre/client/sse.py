import codecs
import json
from collections.abc import Iterable, Iterator
from typing import Any

DONE = object()


def iter_sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """
    The ``data:`` payloads of a server-sent event stream, as text.

    Network reads do not align with events: a line, a JSON object or a
    multi-byte character can be cut anywhere, so bytes are decoded
    incrementally and a line is only looked at once it is complete.
    Comments (``: ping``), ``event:``/``id:``/``retry:`` lines and empty
    payloads are skipped.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    for chunk in chunks:
        if not chunk:
            continue
        buffer += decoder.decode(chunk)
        while True:
            newline = buffer.find("\n")
            if newline < 0:
                break
            line, buffer = buffer[:newline], buffer[newline + 1 :]
            payload = _payload(line)
            if payload:
                yield payload
    buffer += decoder.decode(b"", final=True)
    payload = _payload(buffer)
    if payload:
        yield payload


def _payload(line: str) -> str:
    line = line.rstrip("\r")
    if not line.startswith("data:"):
        return ""
    return line[5:].strip()


def iter_sse_json(chunks: Iterable[bytes]) -> Iterator[Any]:
    """Parsed JSON events, then ``DONE`` if the stream said ``[DONE]``."""
    for payload in iter_sse_data(chunks):
        if payload == "[DONE]":
            yield DONE
            return
        yield json.loads(payload)
