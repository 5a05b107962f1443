"""
Replies across real server processes: each instance is the Procfile's web
command (gunicorn, gevent workers, DEBUG=0) on the test database, talking
to the fake API over loopback.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import Client

from chat.models import Conversation, Message
from tests.conftest import TEST_KEY
from tests.helpers import wait_for
from usage.models import UsageRecord

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def redis_url() -> str | None:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=0.5).ping()
    except Exception:
        return None
    return "redis://127.0.0.1:6379/15"


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("static")
    env = {**os.environ, "STATIC_ROOT": str(root), "DEBUG": "0"}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    return root


class Instance:
    def __init__(self, process: subprocess.Popen, url: str) -> None:
        self.process = process
        self.url = url

    def start_reply(self, user, conversation) -> int:
        """Send through this instance as the page's script does without streaming; the reply's id."""
        response = self.session_for(user).post(
            f"{self.url}/c/{conversation.pk}/send",
            data={"text": "Hi"},
            headers={"Accept": "application/json"},
            timeout=10,
        )
        return int(response.json()["reply"])

    def session_for(self, user) -> requests.Session:
        client = Client()
        client.force_login(user)
        session = requests.Session()
        session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
        page = session.get(self.url + "/", timeout=10)
        token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        session.headers["X-CSRFToken"] = token
        return session


@pytest.fixture
def start_instance(fake, static_root, tmp_path) -> Iterator[Callable[..., Instance]]:
    started: list[Instance] = []
    logs = tmp_path

    def start(**env: str) -> Instance:
        port = free_port()
        environment = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "DEBUG": "0",
            "HTTPS": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database_url(),
            "STATIC_ROOT": str(static_root),
            "AITRE_BASE_URL": fake.base_url,
            "AITRE_API_KEY": TEST_KEY,
            "CHAT_HEARTBEAT_SECONDS": "0.5",
            "CHAT_STALE_STREAM_SECONDS": "3",
            "CHAT_SWEEP_SECONDS": "1",
            "REDIS_URL": "",
            **env,
        }
        bin_dir = Path(sys.executable).parent
        log = open(logs / f"instance-{port}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "aitre_web.wsgi", "--config", "aitre_web/gunicorn.conf.py"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so teardown ends the workers too.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        instance = Instance(process, f"http://127.0.0.1:{port}")
        started.append(instance)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                # 200, or 301 to https when the instance expects to sit behind a router.
                ready = requests.get(instance.url + "/accounts/login/", timeout=1, allow_redirects=False)
                if ready.status_code in (200, 301):
                    return instance
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail("the instance did not start")

    yield start
    # On failure, pytest shows what the instances logged.
    for log_file in sorted(logs.glob("instance-*.log")):
        print(f"--- {log_file.name}\n{log_file.read_text()[-3000:]}")
    for instance in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(instance.process.pid, signal.SIGKILL)
        instance.process.wait(timeout=10)


def _die_with_parent() -> None:
    """
    An instance ends with the test run that started it, even one that was
    killed: left running, its sweeper would settle other tests' replies.
    """
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_events(response: requests.Response) -> Iterator[tuple[str, dict]]:
    import json

    name = None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name:
            yield name, json.loads(line[6:])
            name = None


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
    wait_for(lambda: fake.chat_requests()[0].ended is not None, timeout=5)
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


def test_production_smoke(start_instance, static_root):
    """
    The Procfile's web command as deployed (DEBUG=0, HTTPS behind a router,
    static files collected): the login page, a static file, a 404 and a
    server error, none of which tells a visitor anything about the server.
    """
    instance = start_instance(HTTPS="1", ERROR_PROBE="1", ALLOWED_HOSTS="127.0.0.1")
    router = {"X-Forwarded-Proto": "https"}

    plain = requests.get(instance.url + "/accounts/login/", allow_redirects=False, timeout=10)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")

    login = requests.get(instance.url + "/accounts/login/", headers=router, timeout=10)
    assert login.status_code == 200 and "Log in" in login.text
    headers = login.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in headers["Set-Cookie"] and "HttpOnly" not in headers["Set-Cookie"].split("csrftoken")[0]

    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["site/site.css"]
    assert hashed != "site/site.css"
    static = requests.get(f"{instance.url}/static/{hashed}", headers={**router, "Accept-Encoding": "gzip"}, timeout=10)
    assert static.status_code == 200 and "text/css" in static.headers["Content-Type"]
    assert "max-age=315360000" in static.headers["Cache-Control"] and "immutable" in static.headers["Cache-Control"]
    assert static.headers.get("Content-Encoding") == "gzip"
    # The chat's modules import each other by their hashed names.
    main = requests.get(f"{instance.url}/static/{manifest['chat/js/main.js']}", headers=router, timeout=10).text
    assert f'"./{manifest["chat/js/thread.js"].rsplit("/", 1)[1]}"' in main

    missing = requests.get(instance.url + "/no/such/page", headers=router, timeout=10)
    assert missing.status_code == 404

    failed = requests.get(instance.url + "/__probe__/500", headers=router, timeout=10)
    assert failed.status_code == 500 and "Something went wrong on our side" in failed.text

    for page in (login.text, missing.text, failed.text):
        for leak in ["Traceback", "DEBUG", "settings", "URLconf", "SECRET_KEY", TEST_KEY, "error probe", str(ROOT)]:
            assert leak not in page, leak
