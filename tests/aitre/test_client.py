"""The API client against the fake server, over real HTTP."""

import threading
import time

import pytest

from aitre.client import AitreClient, AitreError
from aitre.client.base import shared_session
from tests.conftest import TEST_KEY

PAYLOAD = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 100}


@pytest.fixture
def client(fake):
    return AitreClient(fake.base_url, TEST_KEY, stream_idle_timeout=2)


def test_it_lists_models(client):
    assert "gpt-4o-mini" in [m.id for m in client.list_models()]


def test_it_streams_a_reply_with_usage(client, fake):
    stream = client.stream_chat(PAYLOAD)
    text = "".join(stream)
    assert text == fake.state.reply
    assert stream.finish_reason == "stop"
    assert stream.usage is not None and stream.usage.completion_tokens > 0
    sent = fake.chat_requests()[-1]
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.headers["Authorization"] == f"Bearer {TEST_KEY}"


def test_streams_reuse_their_connection_to_the_api(fake):
    # The site's own session: its pool is what every reply goes through.
    client = AitreClient(fake.base_url, TEST_KEY, session=shared_session())
    "".join(client.stream_chat(PAYLOAD))
    before = fake.connections
    for _ in range(5):
        assert "".join(client.stream_chat(PAYLOAD)) == fake.state.reply
    client.list_models()
    assert fake.connections == before, "one connection for every call, not one per stream"
    # A stream that broke off is not reused.
    fake.script("cut")
    with pytest.raises(AitreError):
        "".join(client.stream_chat(PAYLOAD))
    "".join(client.stream_chat(PAYLOAD))
    assert fake.connections == before + 1


def test_a_server_that_never_ends_the_body_after_done_still_ends_the_reply(fake):
    client = AitreClient(fake.base_url, TEST_KEY, session=shared_session())
    fake.script("linger")
    stream = client.stream_chat(PAYLOAD)
    assert "".join(stream) == fake.state.reply
    assert stream.finish_reason == "stop"
    before = fake.connections
    "".join(client.stream_chat(PAYLOAD))
    assert fake.connections == before + 1, "its connection was closed, not put back half-read"


def test_it_reads_a_reply_without_streaming(client, fake):
    result = client.chat(PAYLOAD)
    assert result.text == fake.state.reply
    assert result.usage is not None


@pytest.mark.parametrize("scenario", ["no-usage", "ping"])
def test_it_tolerates_server_quirks(client, fake, scenario):
    fake.script(scenario)
    stream = client.stream_chat(PAYLOAD)
    assert "".join(stream) == fake.state.reply
    assert (stream.usage is None) == (scenario == "no-usage")


@pytest.mark.parametrize(
    ("scenario", "words", "permanent"),
    [
        ("401", "key", True),
        ("404", "model", True),
        ("429", "7 s", False),
        ("quota", "quota", True),
        ("500", "500", False),
        ("503", "503", False),
        ("detail", "max_tokens must be a positive integer", True),
        ("500-text", "500", False),
    ],
)
def test_it_explains_each_failure(client, fake, scenario, words, permanent):
    fake.script(scenario)
    with pytest.raises(AitreError) as caught:
        list(client.stream_chat(PAYLOAD))
    assert words in caught.value.message
    assert caught.value.permanent is permanent


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        ("stream-error", "upstream provider overloaded"),
        ("cut", "broke off in the middle"),
        ("early-end", "before it was complete"),
        ("malformed", "could not read"),
    ],
)
@pytest.mark.parametrize("read_interval", [0, 0.05], ids=["each read", "once an interval"])
def test_it_reports_failures_in_the_middle_of_a_stream(fake, scenario, words, read_interval):
    client = AitreClient(fake.base_url, TEST_KEY, stream_idle_timeout=2, stream_read_interval=read_interval)
    fake.state.token_delay = 0.01
    fake.script(scenario)
    received = []
    with pytest.raises(AitreError) as caught:
        for piece in client.stream_chat(PAYLOAD):
            received.append(piece)
    assert words in caught.value.message
    assert received, "the text before the failure is delivered"


def test_it_gives_up_on_a_silent_stream(fake):
    fake.script("stall")
    client = AitreClient(fake.base_url, TEST_KEY, stream_idle_timeout=0.5)
    with pytest.raises(AitreError) as caught:
        list(client.stream_chat(PAYLOAD))
    assert "too long" in caught.value.message


def test_it_never_repeats_the_key_a_server_echoes(client, fake):
    fake.script("echo-key")
    with pytest.raises(AitreError) as caught:
        list(client.stream_chat(PAYLOAD))
    assert TEST_KEY not in caught.value.message
    assert TEST_KEY not in caught.value.detail


def test_it_explains_an_unreachable_server():
    client = AitreClient("http://127.0.0.1:9", TEST_KEY, connect_timeout=1)
    with pytest.raises(AitreError) as caught:
        client.list_models()
    assert "could not reach" in caught.value.message


def test_cancel_closes_a_silent_upstream_at_once(fake):
    fake.script("stall")
    client = AitreClient(fake.base_url, TEST_KEY, stream_idle_timeout=20)
    stream = client.stream_chat(PAYLOAD)
    received = []

    def read():
        received.extend(stream)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    began = time.monotonic()
    stream.cancel()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert time.monotonic() - began < 1
    assert stream.cancelled
