"""
Real server processes for the tests: the Procfile's web command (gunicorn,
gevent workers) on the test database, talking to the fake API over loopback.
Loaded as a plugin by tests/conftest.py.
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

from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parent.parent


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

    name = None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name:
            yield name, json.loads(line[6:])
            name = None


class Worker:
    """A real worker process (the Procfile's ``worker`` line) on the test database."""

    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log

    def kill(self) -> None:
        """Gone at once, mid-job if it was in one: no cleanup, as when a machine dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def start_worker(fake, tmp_path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(**env: str) -> Worker:
        environment = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "DEBUG": "0",
            "DATABASE_URL": database_url(),
            "AITRE_BASE_URL": fake.base_url,
            "AITRE_API_KEY": TEST_KEY,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "MIDJOURNEY_POLL_SECONDS": str(settings.MIDJOURNEY_POLL_SECONDS),
            "MIDJOURNEY_LEASE_SECONDS": str(settings.MIDJOURNEY_LEASE_SECONDS),
            "WORKER_SWEEP_SECONDS": "0.5",
            "REDIS_URL": "",
            **env,
        }
        log_path = tmp_path / f"worker-{len(started)}.log"
        log = open(log_path, "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        worker = Worker(process, log_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        print(f"--- {worker.log.name}\n{worker.log.read_text()[-3000:]}")
        worker.kill()
