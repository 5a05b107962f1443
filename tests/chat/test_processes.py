"""
Replies across real server processes: each instance is the Procfile's web
command (gunicorn, gevent workers, DEBUG=0) on the test database, talking
to the fake API over loopback.
"""

import os
import signal
import socket
import time

import pytest

from chat.models import Conversation, Message
from tests.helpers import wait_for
from tests.instances import read_events, redis_url
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "database"])
def test_a_reply_started_on_one_instance_is_followed_live_on_another(
    start_instance, alice, conversation, fake, with_redis
):
    redis = redis_url() if with_redis else ""
    if with_redis and not redis:
        pytest.skip("no Redis on 127.0.0.1:6379")
    fake.state.reply = " ".join(f"word{i}" for i in range(120))
    # Six seconds: long enough to see it arrive in pieces even through the
    # database, which the writer updates every two seconds.
    fake.state.token_delay = 0.05
    first, second = start_instance(REDIS_URL=redis), start_instance(REDIS_URL=redis)
    sending = first.session_for(alice)
    response = sending.post(
        f"{first.url}/c/{conversation.pk}/send",
        data={"text": "Hi"},
        headers={"Accept": "text/event-stream"},
        stream=True,
        timeout=30,
    )
    start = next(read_events(response))[1]
    following = second.session_for(alice).get(second.url + start["stream"], stream=True, timeout=30)
    events = list(read_events(following))
    response.close()
    text = events[0][1]["text"] + "".join(e["t"] for name, e in events if name == "delta")
    assert text == fake.state.reply
    assert events[-1][0] == "end" and events[-1][1]["status"] == "complete"
    # Live, not one dump at the end: the text came in several pieces.
    assert sum(1 for name, _ in events if name == "delta") >= 3


def test_stop_through_another_instance_closes_the_upstream_within_a_second(start_instance, alice, conversation, fake):
    fake.state.token_delay = 0.1
    first, second = start_instance(), start_instance()
    reply = first.start_reply(alice, conversation)
    wait_for(lambda: fake.chat_requests() and fake.chat_requests()[0].sent_chunks > 3)
    asked = time.monotonic()
    stopped = second.session_for(alice).post(f"{second.url}/m/{reply}/stop", headers={"Accept": "application/json"})
    assert stopped.json() == {"stopped": True}
    wait_for(lambda: fake.chat_requests()[0].ended is not None)
    assert fake.chat_requests()[0].ended - asked < 1.0
    wait_for(lambda: Message.objects.get(pk=reply).status == "stopped")
    message = Message.objects.get(pk=reply)
    assert message.content and message.content != fake.state.reply
    assert UsageRecord.objects.for_subject(message.conversation).get().completion_tokens > 0


def test_a_killed_process_leaves_no_reply_streaming(start_instance, alice, conversation, fake):
    fake.state.token_delay = 0.1
    first, second = start_instance(), start_instance()
    reply = first.start_reply(alice, conversation)
    wait_for(lambda: Message.objects.get(pk=reply).status == "streaming")
    os.killpg(first.process.pid, signal.SIGKILL)
    # Whoever looks next (here, a stream on the other instance) sees it interrupted, with its text.
    following = second.session_for(alice).get(f"{second.url}/m/{reply}/stream", stream=True, timeout=30)
    events = list(read_events(following))
    assert events[-1][0] == "end" and events[-1][1]["status"] == "interrupted"
    message = Message.objects.get(pk=reply)
    assert message.status == "interrupted" and message.content
    assert "Retry" in events[-1][1]["html"]
    record = UsageRecord.objects.for_subject(conversation).get()
    assert record.estimated and not record.succeeded and record.completion_tokens > 0, "what it streamed is counted"


def test_a_killed_reply_nobody_opens_is_settled_with_its_usage(start_instance, alice, conversation, fake):
    fake.state.token_delay = 0.1
    first, second = start_instance(), start_instance()
    reply = first.start_reply(alice, conversation)
    wait_for(lambda: len(Message.objects.get(pk=reply).content) > 5)
    os.killpg(first.process.pid, signal.SIGKILL)
    # Nobody looks: the other instance's sweeper settles it, stale time (3 s) plus a sweep (1 s) later.
    wait_for(lambda: Message.objects.get(pk=reply).status == "interrupted", timeout=15)
    message = Message.objects.get(pk=reply)
    record = UsageRecord.objects.for_subject(conversation).get()
    assert (record.estimated, record.succeeded) == (True, False)
    assert record.prompt_tokens > 0, "the prompt, as estimated before the call"
    assert record.completion_tokens == message.completion_tokens > 0
    assert second.process.poll() is None


@pytest.mark.parametrize(
    ("graceful", "tokens", "outcome"),
    [("15", 20, "complete"), ("5", 400, "interrupted")],
    ids=["finishes", "interrupted"],
)
def test_a_graceful_shutdown_finishes_or_interrupts_replies(
    start_instance, alice, conversation, fake, graceful, tokens, outcome
):
    fake.state.reply = " ".join(f"w{i}" for i in range(tokens))
    fake.state.token_delay = 0.05
    instance = start_instance(GRACEFUL_TIMEOUT=graceful)
    reply = instance.start_reply(alice, conversation)
    wait_for(lambda: Message.objects.get(pk=reply).status == "streaming")
    instance.process.send_signal(signal.SIGTERM)
    instance.process.wait(timeout=int(graceful) + 10)
    message = Message.objects.get(pk=reply)
    assert message.status == outcome
    assert message.content
    if outcome == "complete":
        assert message.content == fake.state.reply
    assert Conversation.objects.get().messages.live().count() == 0


def test_the_first_byte_leaves_before_the_upstream_says_anything(start_instance, alice, conversation, fake):
    """Routers cut a request with no first byte in 30 s: the stream starts before the model does."""
    fake.state.first_token_delay = 3
    instance = start_instance()
    response = instance.session_for(alice).post(
        f"{instance.url}/c/{conversation.pk}/send",
        data={"text": "Hi"},
        headers={"Accept": "text/event-stream"},
        stream=True,
        timeout=30,
    )
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in response.headers
    first = next(response.iter_content(chunk_size=None))
    assert b"event: start" in first or b": connected" in first
    assert all(r.sent_chunks == 0 for r in fake.chat_requests()), "nothing had come from the upstream yet"
    response.close()


def test_a_stuck_client_does_not_hold_the_reply_back(start_instance, alice, conversation, fake):
    fake.state.reply = " ".join(f"word{i}" for i in range(3000))
    instance = start_instance()
    session = instance.session_for(alice)
    reply = session.post(
        f"{instance.url}/c/{conversation.pk}/send", data={"text": "Hi"}, headers={"Accept": "application/json"}
    ).json()["reply"]
    # A client that asks for the stream and never reads it.
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", int(instance.url.rsplit(":", 1)[1])))
    cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    stuck.sendall(f"GET /m/{reply}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookies}\r\n\r\n".encode())
    wait_for(lambda: Message.objects.get(pk=reply).status == "complete", timeout=20)
    assert Message.objects.get(pk=reply).content == fake.state.reply
    stuck.close()
