import json

from hypothesis import given
from hypothesis import strategies as st

from aitre.client.sse import DONE, iter_sse_data, iter_sse_json


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


def test_it_reads_data_lines_and_skips_the_rest():
    stream = (
        b': ping\n\nevent: message\nid: 3\nretry: 10\ndata: {"a": 1}\n\ndata:\n\ndata:{"b":2}\r\n\r\ndata: [DONE]\n\n'
    )
    assert list(iter_sse_json([stream])) == [{"a": 1}, {"b": 2}, DONE]


def test_it_stops_at_done():
    stream = b'data: {"a": 1}\n\ndata: [DONE]\n\ndata: {"never": 1}\n\n'
    assert list(iter_sse_json([stream])) == [{"a": 1}, DONE]


def test_it_reads_a_last_line_without_newline():
    assert list(iter_sse_data([b"data: tail"])) == ["tail"]


@given(
    texts=st.lists(st.text(min_size=0, max_size=40), min_size=0, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_any_split_of_the_bytes_gives_the_same_events(texts, cuts):
    events = [{"choices": [{"delta": {"content": t}}]} for t in texts]
    wire = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
    assert list(iter_sse_json(split_at(wire, cuts))) == [*events, DONE]
