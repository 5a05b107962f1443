"""A chunked body undone in bulk: any cut of the bytes gives the same payload, broken framing is refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aitre.client import AitreClient
from aitre.client.base import shared_session
from aitre.client.wire import ChunkedDecoder
from tests.aitre.test_client import PAYLOAD
from tests.aitre.test_sse import split_at
from tests.conftest import TEST_KEY


def chunked(pieces: list[bytes], trailers: bytes = b"") -> bytes:
    body = b"".join(
        b"%x;ext=1\r\n%s\r\n" % (len(p), p) if i % 2 else b"%X\r\n%s\r\n" % (len(p), p)
        for i, p in enumerate(pieces)
        if p
    )
    return body + b"0\r\n" + trailers + b"\r\n"


@given(
    pieces=st.lists(st.binary(min_size=0, max_size=300), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    trailers=st.sampled_from([b"", b"X-Checksum: 1\r\n"]),
)
def test_any_cut_of_a_chunked_body_gives_its_payload(pieces, cuts, trailers):
    decoder = ChunkedDecoder()
    wire = chunked(pieces, trailers)
    out = b"".join(decoder.feed(part) for part in split_at(wire, cuts))
    assert out == b"".join(pieces)
    assert decoder.ended


def test_nothing_after_the_last_chunk_is_read_as_payload():
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n") == b"abc"
    assert decoder.ended


def test_it_is_not_ended_before_the_last_chunk():
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\r\nabc\r\n0\r\n") == b"abc"
    assert not decoder.ended


@pytest.mark.parametrize(
    "wire",
    [b"zz\r\nabc\r\n", b"3\r\nabcd\r\n", b"-3\r\nabc\r\n", b"1" * 5000],
    ids=["not hex", "longer than its size", "negative", "an endless size line"],
)
def test_broken_framing_is_refused(wire):
    with pytest.raises(ValueError):
        ChunkedDecoder().feed(wire)


def test_a_stream_from_the_fake_server_is_read_in_bulk_and_gives_its_connection_back(fake):
    client = AitreClient(fake.base_url, TEST_KEY, session=shared_session(), stream_read_interval=0.05)
    fake.state.token_delay = 0.005
    "".join(client.stream_chat(PAYLOAD))
    before = fake.connections
    stream = client.stream_chat(PAYLOAD)
    pieces = list(stream)
    assert "".join(pieces) == fake.state.reply
    assert stream._body._decoder is not None, "the fake's chunked body takes the bulk path"
    assert len(pieces) < len(fake.state.reply.split()), "what arrived during a pause came as one piece"
    assert fake.connections == before
