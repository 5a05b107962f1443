import codecs
import json
from collections.abc import Iterable, Iterator
from typing import Any

DONE = object()


def iter_sse_batches(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """
    The ``data:`` payloads of a server-sent event stream, as text, in one
    list for each network read that completed any: a reader then handles
    the events that arrived together at once.

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
        if "\n" not in buffer:
            continue
        *lines, buffer = buffer.split("\n")
        payloads = [payload for line in lines if (payload := _payload(line))]
        if payloads:
            yield payloads
    payload = _payload(buffer + decoder.decode(b"", final=True))
    if payload:
        yield [payload]


def iter_sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """The payloads one by one."""
    for batch in iter_sse_batches(chunks):
        yield from batch


def _payload(line: str) -> str:
    if not line.startswith("data:"):
        return ""
    return line[5:].strip()


def iter_sse_json_batches(chunks: Iterable[bytes]) -> Iterator[list[Any]]:
    """Parsed JSON events, a list for each read; the last list ends with ``DONE`` if the stream said ``[DONE]``."""
    for batch in iter_sse_batches(chunks):
        events: list[Any] = []
        for payload in batch:
            if payload == "[DONE]":
                events.append(DONE)
                yield events
                return
            try:
                events.append(json.loads(payload))
            except ValueError:
                if events:
                    yield events  # what came before the broken event is delivered first
                raise
        yield events


def iter_sse_json(chunks: Iterable[bytes]) -> Iterator[Any]:
    """Parsed JSON events one by one, then ``DONE`` if the stream said ``[DONE]``."""
    for batch in iter_sse_json_batches(chunks):
        yield from batch
