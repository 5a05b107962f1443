"""
`make bench`: AITRE Web under load, measured against calling the fake API
directly, in one run, on this machine.

It starts the app exactly as the Procfile does (gunicorn with
aitre_web/gunicorn.conf.py, gevent workers, DEBUG=0) on PostgreSQL, with
the fake AITRE server in its own process (over HTTPS, with a throwaway
certificate authority the app alone trusts), and drives logged-in users
through the endpoint the browser uses: a send, whose answer is the reply's
event stream, read to its end. Every scenario also runs the same replies
straight against the fake server, so the app's cost is reported as the
difference. Everything runs on 127.0.0.1, bounded in count and time.

Scenarios: steady (N users each send, read to the end, send again, for a
while) for N = 1, 10, 50, 100, 200 on PostgreSQL and N = 50 on SQLite;
held (500 users send in the same instant, slow replies: how fast sends
are admitted; then, while those streams are open, 20 other users chat as
usual); length (replies of 200, 2,000 and 8,000 tokens: CPU per 1,000
tokens); and a conversation of 1,000 messages opened and sent into (with
the CPU of a reply there and in an empty one). Then the usage case:
1,000,000 usage records (10,000 users, 50 models, 30 days) seeded on
PostgreSQL, and the usage dashboard, a user's drill-down and CSV, the Usage
page and a quota check timed through Django (no upstream to compare with:
these are absolute times).

Each run ends with one line per scenario:
  bench: scenario=<steady|open> db=<postgres|sqlite> n=<N> ok=<k> failed=<k>
         ttft_overhead_p50_ms=<x> ttft_overhead_p99_ms=<x> replies_per_s=<x>
         cpu_ms_per_reply=<x> rss_mb=<x> upstream_connections=<k>
         replies_per_upstream_connection=<x>
         steady_replies_per_upstream_connection=<x> (the run's second half)
         cores_busy_app=<x> cores_busy_fake=<x> cores_busy_generator=<x> (of N: the shared cores)
  bench: scenario=held db=postgres slow_streams=500 held_ok=<k> admission_sends_per_s=<x> admission_cpu_ms_per_send=<x>
         burst_ttft_overhead_p50_ms=<x> burst_ttft_overhead_p99_ms=<x> n=20 ok=<k> failed=<k>
         ttft_overhead_p50_ms=<x> ttft_overhead_p99_ms=<x> still_held_at_end=<k> rss_mb=<x>
  bench: scenario=length tokens=<200|2000|8000> n=10 ok=<k> failed=<k> cpu_ms_per_reply=<x>
         cpu_ms_per_1000_tokens=<x>
  bench: long_conversation_open_ms=<x> long_conversation_send_ms=<x>
         long_conversation_cpu_ms_per_reply=<x> short_conversation_cpu_ms_per_reply=<x>
  bench: usage_records=<n> ... dashboard_30d_ms=<x> ... quota_check_ms=<x>

Then search: one user with 50,000 messages (and another's beside them), on
PostgreSQL and on SQLite, against the fake API in its own process: how many
messages a second are written as passages and embedded, and the server time
(p50) of a search by words, by meaning and both.
  bench: search=<postgres|sqlite> messages=<n> ... index_messages_per_s=<x>
         words_p50_ms=<x> meaning_p50_ms=<x> both_p50_ms=<x>

Options: --quick (shorter, smaller: a smoke run), --only chat|usage|search
(one part), --records N (usage records to seed), --messages N (the search
case's history), --postgres URL (a server where the bench may create and
drop the database aitre_bench).
"""

import sys

if __name__ == "__main__":
    # Thousands of sockets from one process: greenlets, before anything imports socket.
    from gevent import monkey

    monkey.patch_all()

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SECRET_KEY = "bench-" + "x" * 60
MODEL = "gpt-4o-mini"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- The processes --------------------------------------------------------------------


class Fake:
    """The fake AITRE server in its own process."""

    def __init__(self, tokens: int, rate: float, first_token_delay: float, slow_rate: float = 0) -> None:
        self.port = free_port()
        # Over HTTPS, as a real endpoint is: every new upstream connection costs a handshake.
        self.tls_dir = Path(tempfile.mkdtemp(prefix="aitre-bench-tls-"))
        self.ca_file = self.tls_dir / "ca.pem"
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "tests.fake_aitre",
                "--gevent",
                "--tls",
                str(self.tls_dir),
                "--port",
                str(self.port),
                "--tokens",
                str(tokens),
                "--rate",
                str(rate),
                "--first-token-delay",
                str(first_token_delay),
                "--slow-rate",
                str(slow_rate),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def connections(self) -> int:
        """How many connections others have opened to the fake server so far (not these questions)."""
        self.questions = getattr(self, "questions", 0) + 1
        connection = connect(self.url, self.ca_file)
        connection.request("GET", "/fake/stats", headers={"Authorization": "Bearer sk-bench"})
        count = int(json.loads(connection.getresponse().read())["connections"])
        connection.close()
        return count - self.questions

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        shutil.rmtree(self.tls_dir, ignore_errors=True)


def group_cpu_seconds(leader: int) -> float:
    """User and system time of a process and everything in its process group."""
    out = subprocess.run(["pgrep", "-g", str(leader)], capture_output=True, text=True).stdout
    total = 0
    for pid in {leader, *(int(p) for p in out.split())}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            pass
    return total / CLOCK_TICKS


def own_cpu_seconds() -> float:
    """The load generator's own CPU (this process)."""
    times = os.times()
    return times.user + times.system


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


class App:
    """The Procfile's web process, on a database of its own, seeded with users."""

    def __init__(
        self,
        database_url: str,
        fake: Fake,
        static_root: Path,
        users: int,
        *,
        slow: int = 0,
        lengths: tuple[int, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "DEBUG": "0",
            "HTTPS": "0",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database_url,
            "STATIC_ROOT": str(static_root),
            "PORT": str(self.port),
            "AITRE_BASE_URL": fake.url,
            "AITRE_API_KEY": "sk-bench",
            # The fake's throwaway authority, trusted by requests in the app alone.
            "REQUESTS_CA_BUNDLE": str(fake.ca_file),
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
            # The bench measures speed; the per-user send rate would refuse its quick senders.
            "CHAT_SENDS_PER_MINUTE": "0",
            **(env or {}),
        }
        run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], self.env)
        seed_command = [PYTHON, "-m", "bench", "seed", "--users", str(users), "--slow", str(slow)]
        seed_command += ["--lengths", ",".join(map(str, lengths))] if lengths else []
        seeded = run(seed_command, self.env)
        self.seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.process = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "aitre_web.wsgi",
                "--config",
                "aitre_web/gunicorn.conf.py",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port)
        self.warm_up()

    def warm_up(self) -> None:
        """A few replies first, so imports and first connections are not measured."""
        time.sleep(1)  # the workers boot after the master listens
        drive(f"http://127.0.0.1:{self.port}", self.seed["users"][:8], 0, True, through_app)

    def pids(self) -> list[int]:
        pids = [self.process.pid]
        out = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True).stdout
        return sorted({*pids, *(int(p) for p in out.split())})

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.process.pid)

    def rss_mb(self) -> float:
        total_kb = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
            except OSError:
                pass
        return total_kb / 1024

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


# --- One reply, through the app or straight from the fake ---------------------------------


@dataclass
class Reply:
    ok: bool
    ttft: float  # seconds from the request to the first piece of text
    total: float


def through_app(
    connection: http.client.HTTPConnection,
    user: dict,
    text: str = "Tell me something.",
    admissions: list[float] | None = None,
) -> Reply:
    """One send and its whole reply; ``admissions`` gets the moment the send was recorded (its start event)."""
    began = time.perf_counter()
    try:
        connection.request(
            "POST",
            f"/c/{user['conversation']}/send",
            urlencode({"text": text}),
            headers={
                "Cookie": f"sessionid={user['session']}; csrftoken={user['csrf']}",
                "X-CSRFToken": user["csrf"],
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "text/event-stream",
            },
        )
        return read_stream(
            connection.getresponse(), began, b"event: delta", b"event: end", b'"status": "complete"', admissions
        )
    except (OSError, http.client.HTTPException):
        connection.close()
        return Reply(False, 0, time.perf_counter() - began)


def straight_from_fake(connection: http.client.HTTPConnection, user: dict) -> Reply:
    began = time.perf_counter()
    body = {"model": MODEL, "stream": True, "max_tokens": 4096, "messages": [{"role": "user", "content": "Hi"}]}
    try:
        connection.request(
            "POST",
            "/v1/chat/completions",
            json.dumps(body),
            headers={"Authorization": "Bearer sk-bench", "Content-Type": "application/json"},
        )
        return read_stream(connection.getresponse(), began, b'{"content": "', b"[DONE]", b"[DONE]")
    except (OSError, http.client.HTTPException):
        connection.close()
        return Reply(False, 0, time.perf_counter() - began)


def read_stream(
    response: http.client.HTTPResponse,
    began: float,
    first: bytes,
    end: bytes,
    success: bytes,
    admissions: list[float] | None = None,
) -> Reply:
    if response.status != 200:
        response.read()
        return Reply(False, 0, time.perf_counter() - began)
    ttft = None
    seen = b""
    ended = ok = False
    while chunk := response.read1(65536):
        window = seen + chunk
        if admissions is not None and b"event: start" in window:
            admissions.append(time.perf_counter())
            admissions = None
        if ttft is None and first in window:
            ttft = time.perf_counter() - began
        if not ended and end in window:
            ended = True
        if ended and success in window:
            ok = True
        seen = window[-256:]
    return Reply(ok and ttft is not None, ttft or 0, time.perf_counter() - began)


def connect(url: str, ca_file: Path | None = None) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=120, context=context)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)


# --- Scenarios ------------------------------------------------------------------------------


def drive(
    url: str,
    users: list[dict],
    duration: float,
    one_round: bool,
    call,
    ca_file: Path | None = None,
    results: list[Reply] | None = None,
) -> tuple[list[Reply], float]:
    import gevent

    results = [] if results is None else results
    began = time.perf_counter()
    stop_at = began + duration

    def user_loop(user: dict) -> None:
        connection = connect(url, ca_file)
        while True:
            results.append(call(connection, user))
            if one_round or time.perf_counter() >= stop_at:
                break
        connection.close()

    greenlets = [gevent.spawn(user_loop, user) for user in users]
    gevent.joinall(greenlets, timeout=duration + 180)
    gevent.killall([g for g in greenlets if not g.dead], block=False)
    return results, time.perf_counter() - began


class PeakMemory:
    """The app's summed RSS, sampled four times a second until ``stop()``, which returns its peak in MB."""

    def __init__(self, app: App) -> None:
        import gevent

        self.peak = 0.0
        self.sampling = True

        def sample() -> None:
            while self.sampling:
                self.peak = max(self.peak, app.rss_mb())
                gevent.sleep(0.25)

        self.sampler = gevent.spawn(sample)

    def stop(self) -> float:
        self.sampling = False
        self.sampler.join()
        return self.peak


def scenario(name: str, db: str, app: App, fake: Fake, n: int, duration: float, one_round: bool = False) -> str:
    import gevent

    users = app.seed["users"][:n]
    direct, _ = drive(fake.url, users, duration, one_round, straight_from_fake, fake.ca_file)
    memory = PeakMemory(app)
    cpu_before, connections_before = app.cpu_seconds(), fake.connections()
    fake_cpu_before, generator_cpu_before = fake.cpu_seconds(), own_cpu_seconds()
    replies: list[Reply] = []
    # Steady state: the second half of the run, once every user's first reply has opened its connection.
    halfway: dict[str, int] = {}

    def mark_halfway() -> None:
        gevent.sleep(duration / 2)
        halfway.update(connections=fake.connections(), replies=sum(r.ok for r in replies))

    marker = gevent.spawn(mark_halfway) if not one_round else None
    replies, elapsed = drive(f"http://127.0.0.1:{app.port}", users, duration, one_round, through_app, results=replies)
    cpu = app.cpu_seconds() - cpu_before
    # How busy the machine's cores were, and with what: the app shares them.
    cores = os.cpu_count() or 1
    busy = {
        "app": cpu,
        "fake": fake.cpu_seconds() - fake_cpu_before,
        "generator": own_cpu_seconds() - generator_cpu_before,
    }
    upstream_connections = fake.connections() - connections_before
    steady = ""
    if marker is not None and halfway:
        late_connections = fake.connections() - halfway["connections"]
        late_replies = sum(r.ok for r in replies) - halfway["replies"]
        steady = f" steady_replies_per_upstream_connection={late_replies / max(1, late_connections):.1f}"
        steady += f" (late_connections={late_connections} late_replies={late_replies})"
    peak = memory.stop()

    ok = [r for r in replies if r.ok]
    app_ttft = [r.ttft * 1000 for r in ok]
    direct_ttft = [r.ttft * 1000 for r in direct if r.ok]
    p50_app, p99_app = percentile(app_ttft, 0.5), percentile(app_ttft, 0.99)
    p50_direct, p99_direct = percentile(direct_ttft, 0.5), percentile(direct_ttft, 0.99)
    print(
        f"  {name:6} {db:8} n={n:<4} app ttft p50/p99 {p50_app:7.1f}/{p99_app:7.1f} ms   "
        f"direct {p50_direct:7.1f}/{p99_direct:7.1f} ms   direct ok {sum(r.ok for r in direct)}/{len(direct)}",
        flush=True,
    )
    return (
        f"bench: scenario={name} db={db} n={n} ok={len(ok)} failed={len(replies) - len(ok)} "
        f"ttft_overhead_p50_ms={p50_app - p50_direct:.1f} ttft_overhead_p99_ms={p99_app - p99_direct:.1f} "
        f"replies_per_s={len(ok) / elapsed:.1f} cpu_ms_per_reply={cpu * 1000 / max(1, len(ok)):.1f} rss_mb={peak:.0f} "
        f"upstream_connections={upstream_connections} replies_per_upstream_connection="
        f"{len(ok) / max(1, upstream_connections):.1f}{steady} "
        + " ".join(f"cores_busy_{name}={seconds / elapsed:.2f}" for name, seconds in busy.items())
        + f" (of {cores})"
    )


def held(app: App, fake: Fake, slow_n: int, normal_n: int, window: float) -> str:
    """
    ``slow_n`` users send in the same instant, replies at 10 tokens/s (the
    burst: how fast sends are admitted); while those streams are held open,
    ``normal_n`` other users chat at the usual pace for ``window`` seconds.
    """
    import functools

    import gevent

    users = app.seed["users"]
    slow_users, normal_users = users[:slow_n], users[slow_n : slow_n + normal_n]
    direct, _ = drive(fake.url, normal_users, window, False, straight_from_fake, fake.ca_file)
    url = f"http://127.0.0.1:{app.port}"
    memory = PeakMemory(app)
    admissions: list[float] = []
    held_replies: list[Reply] = []
    burst_began, cpu_before = time.perf_counter(), app.cpu_seconds()
    burst = gevent.spawn(
        drive, url, slow_users, 0, True, functools.partial(through_app, admissions=admissions), None, held_replies
    )
    while len(admissions) < slow_n and time.perf_counter() - burst_began < 60 and not burst.dead:
        gevent.sleep(0.05)
    admitted_in = (max(admissions) if admissions else time.perf_counter()) - burst_began
    # The app's CPU while the burst was admitted (the first streams already flowing).
    admission_cpu = app.cpu_seconds() - cpu_before
    normal, _ = drive(url, normal_users, window, False, through_app)
    still_held = slow_n - len(held_replies)  # streams still open when the normal users stopped
    burst.join(timeout=180)
    peak = memory.stop()

    direct_ttft = [r.ttft * 1000 for r in direct if r.ok]
    ok = [r for r in normal if r.ok]
    ttft = [r.ttft * 1000 for r in ok]
    held_ttft = [r.ttft * 1000 for r in held_replies if r.ok]
    p50_direct, p99_direct = percentile(direct_ttft, 0.5), percentile(direct_ttft, 0.99)
    print(
        f"  held   admitted {len(admissions)}/{slow_n} in {admitted_in:.2f} s; "
        f"{normal_n} users ttft p50/p99 {percentile(ttft, 0.5):.1f}/{percentile(ttft, 0.99):.1f} ms, "
        f"direct {p50_direct:.1f}/{p99_direct:.1f} ms; {still_held} held to the end",
        flush=True,
    )
    return (
        f"bench: scenario=held db=postgres slow_streams={slow_n} held_ok={sum(r.ok for r in held_replies)} "
        f"admission_sends_per_s={len(admissions) / max(admitted_in, 1e-3):.0f} "
        f"admission_cpu_ms_per_send={admission_cpu * 1000 / max(1, len(admissions)):.1f} "
        f"burst_ttft_overhead_p50_ms={percentile(held_ttft, 0.5) - p50_direct:.1f} "
        f"burst_ttft_overhead_p99_ms={percentile(held_ttft, 0.99) - p99_direct:.1f} "
        f"n={normal_n} ok={len(ok)} failed={len(normal) - len(ok)} "
        f"ttft_overhead_p50_ms={percentile(ttft, 0.5) - p50_direct:.1f} "
        f"ttft_overhead_p99_ms={percentile(ttft, 0.99) - p99_direct:.1f} "
        f"still_held_at_end={still_held} rss_mb={peak:.0f}"
    )


def lengths(app: App, seconds: float) -> list[str]:
    """CPU per 1,000 tokens for replies of each length (its own model on the fake: fake-words-N)."""
    lines = []
    for length, users in app.seed["lengths"].items():
        tokens = int(length)
        cpu_before = app.cpu_seconds()
        # Long replies take one round; short ones a steady run of the same order.
        one_round = tokens * len(users) > 5000
        replies, _ = drive(f"http://127.0.0.1:{app.port}", users, seconds, one_round, through_app)
        cpu = app.cpu_seconds() - cpu_before
        ok = sum(r.ok for r in replies)
        per_reply = cpu * 1000 / max(1, ok)
        print(f"  length {tokens:5} tokens: {ok} replies, {per_reply:.1f} ms CPU each", flush=True)
        lines.append(
            f"bench: scenario=length tokens={tokens} n={len(users)} ok={ok} failed={len(replies) - ok} "
            f"cpu_ms_per_reply={per_reply:.1f} cpu_ms_per_1000_tokens={per_reply * 1000 / tokens:.1f}"
        )
    return lines


def long_conversation(app: App) -> str:
    """
    A conversation of 1,000 messages: opened, and sent into (the fake's
    unpaced model, so the app is what is timed), with the CPU of a reply
    there and in a conversation of none, same model.
    """
    user = app.seed["long"]
    connection = connect(f"http://127.0.0.1:{app.port}")
    headers = {"Cookie": f"sessionid={user['session']}; csrftoken={user['csrf']}"}
    opens, sends = [], []
    for _ in range(20):
        began = time.perf_counter()
        connection.request("GET", f"/c/{user['conversation']}/", headers=headers)
        response = connection.getresponse()
        body = response.read()
        opens.append((time.perf_counter() - began) * 1000)
        assert response.status == 200 and b"q499" in body, response.status
    cpu_before = app.cpu_seconds()
    for _ in range(20):
        began = time.perf_counter()
        connection.request(
            "POST",
            f"/c/{user['conversation']}/send",
            urlencode({"text": "One more question."}),
            headers={
                **headers,
                "X-CSRFToken": user["csrf"],
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "text/event-stream",
            },
        )
        response = connection.getresponse()
        first = response.read1(65536)
        # The server has recorded the send and started the reply once "start" arrives.
        while b"event: start" not in first:
            first += response.read1(65536)
        sends.append((time.perf_counter() - began) * 1000)
        while response.read1(65536):
            pass
    long_cpu = (app.cpu_seconds() - cpu_before) * 1000 / 20
    connection.close()
    short = app.seed["short"]
    connection = connect(f"http://127.0.0.1:{app.port}")
    cpu_before = app.cpu_seconds()
    short_ok = sum(through_app(connection, short).ok for _ in range(20))
    short_cpu = (app.cpu_seconds() - cpu_before) * 1000 / max(1, short_ok)
    connection.close()
    return (
        f"bench: long_conversation_open_ms={statistics.median(opens):.1f} "
        f"long_conversation_send_ms={statistics.median(sends):.1f} "
        f"long_conversation_cpu_ms_per_reply={long_cpu:.1f} short_conversation_cpu_ms_per_reply={short_cpu:.1f}"
    )


# --- Seeding (runs inside Django, in a subprocess) --------------------------------------------


def seed(users: int, slow: int = 0, lengths: tuple[int, ...] = ()) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aitre_web.settings")
    django.setup()
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from accounts.models import User
    from chat.models import Conversation, Message
    from chat.rendering import render_markdown

    def session_for(user: User) -> str:
        store = SessionStore()
        store["_auth_user_id"] = str(user.pk)
        store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        store["_auth_user_hash"] = user.get_session_auth_hash()
        store.create()
        return str(store.session_key)

    def users_of(model: str, count: int, prefix: str) -> list[dict]:
        people = User.objects.bulk_create([User(username=f"{prefix}{i}", password="!") for i in range(count)])
        conversations = Conversation.objects.bulk_create(
            [Conversation(owner=u, model=model, title="Bench") for u in people]
        )
        return [
            {"session": session_for(u), "csrf": secrets.token_hex(16), "conversation": c.pk}
            for u, c in zip(people, conversations, strict=True)
        ]

    # The first ``slow`` users' replies come at the fake's slow rate (the held streams).
    seeded = users_of("fake-slow", slow, "bench-slow") + users_of(MODEL, users - slow, "bench")
    reader = User.objects.create(username="bench-long", password="!")
    # The "fast" fake model answers at once: this case times the app, not the pacing.
    long = Conversation.objects.create(owner=reader, model="fake-fast", title="Long")
    parent = None
    now = timezone.now()
    for i in range(500):
        question = Message.objects.create(
            conversation=long, parent=parent, role="user", content=f"q{i}", created_at=now
        )
        answer = f"Answer {i}: some **markdown** with `code`.\n\n```python\nprint({i})\n```"
        parent = Message.objects.create(
            conversation=long,
            parent=question,
            role="assistant",
            content=answer,
            created_at=now,
            rendered=render_markdown(answer),
            model=MODEL,
            prompt_tokens=10,
            completion_tokens=20,
            total_tokens=30,
        )
    long.touch(current_leaf=parent)
    out = {
        "users": seeded,
        "long": {"session": session_for(reader), "csrf": secrets.token_hex(16), "conversation": long.pk},
        "short": users_of("fake-fast", 1, "bench-short")[0],
        "lengths": {length: users_of(f"fake-words-{length}", 10, f"bench-{length}-") for length in lengths},
    }
    print(json.dumps(out))


# --- The usage dashboard over a million calls ---------------------------------------------------------


def usage_dashboard(server_url: str, records: int) -> str:
    """Seed ``records`` usage records (10,000 users, 50 models, 30 days) and time the usage pages."""
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": SECRET_KEY, "DATABASE_URL": postgres_database(server_url)}
    env.update({"ALLOWED_HOSTS": "testserver", "HTTPS": "0", "LOG_LEVEL": "WARNING", "REDIS_URL": ""})
    with tempfile.TemporaryDirectory(prefix="aitre-bench-") as static_root:
        env["STATIC_ROOT"] = static_root
        run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], env)
        run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
        measured = run([PYTHON, "-m", "bench", "usage", "--records", str(records)], env)
    return measured.stdout.strip().splitlines()[-1]


def seed_and_time_usage(records: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aitre_web.settings")
    django.setup()
    from decimal import Decimal

    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from usage import quotas as usage
    from usage.models import Price, Quota, UsageDay, UsageRecord

    users, models = 10_000, 50
    people = User.objects.bulk_create(
        [User(username=f"user{i:05}", password="!") for i in range(users)], batch_size=2000
    )
    first_id = min(u.pk for u in people)
    Price.objects.bulk_create(
        Price(
            model=f"model-{m:02}", input_price=Decimal("0.15") * (1 + m % 5), output_price=Decimal("0.60") * (1 + m % 5)
        )
        for m in range(models - 2)  # two models stay unpriced
    )
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.MONTH, token_limit=2_000_000)
    Quota.objects.bulk_create(
        Quota(user=u, measure=Quota.Measure.COST, period=Quota.Period.DAY, cost_limit=Decimal("0.05"))
        for u in people[:100]
    )
    began = time.perf_counter()
    with connection.cursor() as cursor:
        # Each user keeps to three models, unevenly: as people do. Costs in
        # billionths, as MoneyField stores them (an unpriced model's are NULL).
        cursor.execute(
            f"""
            INSERT INTO {UsageRecord._meta.db_table}
                (user_id, kind, model, prompt_tokens, completion_tokens, total_tokens, units, variant, cost,
                 estimated, succeeded, duration_ms, created_at)
            SELECT u, 'chat', 'model-' || lpad(m::text, 2, '0'), p, c, p + c, 0, '',
                   CASE WHEN m >= %s THEN NULL ELSE (p * 150 + c * 600) * (1 + m %% 5) END,
                   false, true, 900, now() - random() * interval '30 days'
            FROM (
                SELECT %s + (g * 7919) %% %s AS u,
                       ((g * 7919) %% %s * 7 + (g %% 7) / 3) %% %s AS m,
                       50 + (g * 31) %% 4000 AS p,
                       10 + (g * 17) %% 800 AS c
                FROM generate_series(1::bigint, %s) AS g
            ) AS calls
            """,
            [models - 2, first_id, users, users, models, records],
        )
        cursor.execute(f"ANALYZE {UsageRecord._meta.db_table}")
    seeded = time.perf_counter() - began
    began = time.perf_counter()
    day_rows = UsageDay.objects.rebuild()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {UsageDay._meta.db_table}")
    rebuilt = time.perf_counter() - began

    admin = User.objects.create_superuser("bench-admin", "admin@example.org", "!")
    client = Client()
    client.force_login(admin)
    heavy = User.objects.get(pk=first_id)

    def timed(url: str, params: dict[str, str] | None = None, *, rounds: int = 7) -> float:
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            response = client.get(url, params or {})
            body = response.content if not response.streaming else b"".join(response.streaming_content)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200 and body, response.status_code
        return statistics.median(times[1:])

    dashboard = "/admin/usage/usagerecord/dashboard/"
    results = {
        "usage_records": records,
        "usage_day_rows": day_rows,
        "seed_s": round(seeded, 1),
        "rebuild_s": round(rebuilt, 1),
        "dashboard_30d_ms": timed(dashboard),
        "dashboard_30d_cost_chart_ms": timed(dashboard, {"chart": "cost"}),
        "dashboard_user_drilldown_ms": timed(dashboard, {"user": heavy.username}),
        "dashboard_model_ms": timed(dashboard, {"model": "model-07"}),
        "csv_one_user_ms": timed(dashboard, {"user": heavy.username, "format": "csv"}, rounds=3),
    }
    client.force_login(heavy)
    results["usage_page_ms"] = timed("/usage/")
    times = []
    for _ in range(50):
        began = time.perf_counter()
        usage.status_for(heavy)
        times.append((time.perf_counter() - began) * 1000)
    results["quota_check_ms"] = statistics.median(times)
    print("bench: " + " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in results.items()))


def chat_scenarios(args: argparse.Namespace, steady_ns: list[int], seconds: float, open_n: int) -> list[str]:
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="aitre-bench-") as scratch:
        static_root = Path(scratch) / "static"
        run(
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
            {**os.environ, "STATIC_ROOT": str(static_root), "DEBUG": "0", "SECRET_KEY": SECRET_KEY},
        )

        # 200 tokens at 50 tokens/s after 200 ms: the steady reply.
        fake = Fake(tokens=200, rate=50, first_token_delay=0.2)
        app = App(postgres_database(args.postgres), fake, static_root, users=max(steady_ns))
        try:
            for n in steady_ns:
                lines.append(scenario("steady", "postgres", app, fake, n, seconds))
            lines.append(long_conversation(app))
        finally:
            app.stop()
            fake.stop()

        # 500 users send at once, 200 tokens at 10 tokens/s: the burst, then
        # streams held open while 20 other users chat at the usual pace.
        fake = Fake(tokens=200, rate=50, first_token_delay=0.2, slow_rate=10)
        app = App(postgres_database(args.postgres), fake, static_root, users=open_n + 20, slow=open_n)
        try:
            lines.append(held(app, fake, open_n, 20, 6.0 if args.quick else 10.0))
        finally:
            app.stop()
            fake.stop()

        # Long replies: the same pace for each length, faster than a person
        # reads so that 8,000 tokens take 40 s, and room for them in the budget.
        fake = Fake(tokens=200, rate=200, first_token_delay=0.2)
        long_replies = {"AITRE_DEFAULT_MAX_TOKENS": "16000", "AITRE_DEFAULT_CONTEXT_TOKENS": "128000"}
        sizes = (200, 2000) if args.quick else (200, 2000, 8000)
        app = App(postgres_database(args.postgres), fake, static_root, users=1, lengths=sizes, env=long_replies)
        try:
            lines += lengths(app, seconds)
        finally:
            app.stop()
            fake.stop()

        # The embedded default must hold 50 users too.
        fake = Fake(tokens=200, rate=50, first_token_delay=0.2)
        app = App(f"sqlite:///{scratch}/bench.sqlite3", fake, static_root, users=50)
        try:
            lines.append(scenario("steady", "sqlite", app, fake, 10 if args.quick else 50, seconds))
        finally:
            app.stop()
            fake.stop()
    return lines


# --- Main -----------------------------------------------------------------------------------------


def media_library(server_url: str, images: int) -> str:
    """The media library with ``images`` images on PostgreSQL: server time and queries of a page, and a thumbnail."""
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": SECRET_KEY, "DATABASE_URL": postgres_database(server_url)}
    env.update({"ALLOWED_HOSTS": "testserver", "HTTPS": "0", "LOG_LEVEL": "WARNING", "REDIS_URL": ""})
    with tempfile.TemporaryDirectory(prefix="aitre-bench-") as root:
        env.update({"STATIC_ROOT": f"{root}/static", "MEDIA_ROOT": f"{root}/media"})
        run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], env)
        run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
        measured = run([PYTHON, "-m", "bench", "library", "--images", str(images)], env)
    return measured.stdout.strip().splitlines()[-1]


def seed_and_time_library(count: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aitre_web.settings")
    django.setup()
    import io

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from PIL import Image

    from accounts.models import User
    from chat.models import Conversation
    from files import store
    from files.models import StoredFile
    from images.models import Generation

    owner = User.objects.create_user("bench-library", password="!")
    others = User.objects.create_user("bench-other", password="!")
    photo = io.BytesIO()
    Image.effect_noise((2048, 1536), 64).convert("RGB").save(photo, "JPEG", quality=92)
    first = store.keep_image(owner.pk, store.check_image(photo.getvalue(), "photo.jpg"), "photo.jpg", "upload")
    chats = Conversation.objects.bulk_create(Conversation(owner=owner, model="gpt-4o") for _ in range(200))
    runs = Generation.objects.bulk_create(
        Generation(owner=owner, model="dall-e-3", prompt=f"picture {i}", status="complete") for i in range(300)
    )
    sources = ["upload", "chat", "studio", "studio"]
    StoredFile.objects.bulk_create(
        (
            StoredFile(
                # Hers, and a tenth as many of someone else's in the same table.
                owner=owner if i < count else others,
                source=sources[i % 4],
                name=f"image {i}.jpg",
                content_type=first.content_type,
                size=first.size,
                width=first.width,
                height=first.height,
                blob=first.blob.name,
                thumbnail=first.thumbnail.name,
                model=("dall-e-3", "gpt-image-1", "gpt-4o-image", "")[i % 4],
                prompt=f"a picture of thing number {i}",
                origin_id=(runs[i % 300].pk if sources[i % 4] == "studio" else chats[i % 200].pk),
            )
            for i in range(count + count // 10)
        ),
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {StoredFile._meta.db_table}")
    client = Client()
    client.force_login(owner)

    def timed(url: str, params: dict[str, str] | None = None, rounds: int = 9) -> tuple[float, int]:
        times, queries = [], 0
        for _ in range(rounds):
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                response = client.get(url, params or {})
                body = b"".join(response.streaming_content) if response.streaming else response.content
                times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200 and body, response.status_code
            queries = len(captured)
        return statistics.median(times[1:]), queries

    page_ms, page_queries = timed("/library/")
    search_ms, search_queries = timed("/library/", {"q": "number 1999", "source": "studio"})
    last_ms, _ = timed("/library/", {"page": "30"})
    # A thumbnail is the small copy made when the image was kept: serving it decodes nothing.
    decoded = []
    real_open = Image.open
    Image.open = lambda *a, **k: decoded.append(1) or real_open(*a, **k)  # type: ignore[assignment]
    try:
        thumb_ms, _ = timed(first.thumbnail_url)
    finally:
        Image.open = real_open  # type: ignore[assignment]
    results = {
        "library_images": count,
        "library_page_ms": round(page_ms, 1),
        "library_page_queries": page_queries,
        "library_search_ms": round(search_ms, 1),
        "library_search_queries": search_queries,
        "library_page_30_ms": round(last_ms, 1),
        "thumbnail_ms": round(thumb_ms, 1),
        "thumbnail_decodes": len(decoded),
        "thumbnail_bytes": first.thumbnail.size,
        "original_bytes": first.size,
    }
    print("bench: " + " ".join(f"{key}={value}" for key, value in results.items()))


# --- Search over a long history ---------------------------------------------------------------------


def search_history(server_url: str, messages: int) -> list[str]:
    """
    One user with ``messages`` messages (and another user's beside them), on
    PostgreSQL and on SQLite, against the fake API in its own process:
    indexing throughput, then the server time of searches by words, by
    meaning and both (absolute times: no upstream does this).
    """
    lines = []
    fake = Fake(tokens=20, rate=0, first_token_delay=0)
    try:
        with tempfile.TemporaryDirectory(prefix="aitre-bench-") as root:
            for db, url in (
                ("postgres", postgres_database(server_url)),
                ("sqlite", f"sqlite:///{root}/search.sqlite3"),
            ):
                env = {**os.environ, "DEBUG": "0", "SECRET_KEY": SECRET_KEY, "DATABASE_URL": url}
                env.update({"ALLOWED_HOSTS": "testserver", "HTTPS": "0", "LOG_LEVEL": "WARNING", "REDIS_URL": ""})
                env.update({"STATIC_ROOT": f"{root}/static", "AITRE_BASE_URL": fake.url, "AITRE_API_KEY": "sk-bench"})
                env.update({"REQUESTS_CA_BUNDLE": str(fake.ca_file), "SEARCH_EMBED": "0"})
                run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], env)
                run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
                measured = run([PYTHON, "-m", "bench", "search", "--messages", str(messages), "--db", db], env)
                lines.append(measured.stdout.strip().splitlines()[-1])
    finally:
        fake.stop()
    return lines


SEARCH_TOPICS = [
    "car engine repair noise garage mechanic",
    "pasta recipe cooking dinner kitchen garlic",
    "dog puppy training walk leash",
    "tax budget savings salary invoice",
    "flight travel holiday hotel passport",
    "sleep insomnia bedtime tired nap",
    "python django database postgresql query",
    "garden tomato plants soil water",
    "ocean whale sea marine coast",
    "汽车 发动机 维修 异响",
    "旅行 航班 酒店 护照",
]
_FILLER_TEXT = (
    "the a of to and in is that for it as with was on be at by this had not are but from or have an they "
    "which one you were her all she there would their we him been has when who will more no if out so "
    "said what up its about into than them can only other new some could time these two may then do first "
    "any my now such like our over man me even most made after also did many before must through back "
    "years where much your way well down"
)
FILLER = _FILLER_TEXT.split()


def seed_and_time_search(messages: int, db: str) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aitre_web.settings")
    django.setup()
    import random

    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from chat.models import Conversation, Message
    from search import embedding, indexing
    from search.models import Passage

    rng = random.Random(14)

    def sentence(topic: str, number: int) -> str:
        words = topic.split()
        picked = [rng.choice(FILLER if rng.random() < 0.7 else words) for _ in range(rng.randint(12, 60))]
        return " ".join(picked) + f" (note {number})"

    owner = User.objects.create_user("bench-search", password="!")
    other = User.objects.create_user("bench-other", password="!")
    per_conversation = 50
    began = time.perf_counter()
    for who, count in ((owner, messages), (other, messages // 10)):
        chats = Conversation.objects.bulk_create(
            Conversation(owner=who, model=MODEL, title=f"Chat {i}") for i in range(count // per_conversation)
        )
        rows = [
            Message(
                conversation=chats[i // per_conversation],
                role="user" if i % 2 == 0 else "assistant",
                content=sentence(SEARCH_TOPICS[(i // per_conversation) % len(SEARCH_TOPICS)], i),
            )
            for i in range(len(chats) * per_conversation)
        ]
        Message.objects.bulk_create(rows, batch_size=2000)
    seeded = time.perf_counter() - began
    began = time.perf_counter()
    captured = 0
    while caught := indexing.sweep_passages():
        captured += caught
    capture_s = time.perf_counter() - began
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE search_passage")
    began = time.perf_counter()
    embedded = embedding.embed_pending(owner.pk)
    index_s = time.perf_counter() - began
    if connection.vendor == "postgresql":
        # As autovacuum would after a batch of writes this size: the visibility map lets counts read the index alone.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE search_passage")

    client = Client()
    client.force_login(owner)
    queries = [
        "engine noise",
        "garlic pasta",
        "puppy training",
        "invoice",
        "passport hotel",
        "insomnia",
        "django query",
        "tomato soil",
        "whale",
        "发动机",
        "fixing my automobile",
        "what to cook tonight",
        "trouble sleeping",
        "holiday flights",
        "note 4021",
        "marine coast",
        "budget savings",
        "旅行 酒店",
        "plants water",
        "mechanic garage",
    ]

    def timed(mode: str) -> float:
        cache.clear()  # no query's vector remembered: each search by meaning makes its embedding call
        times = []
        for query in queries:
            began = time.perf_counter()
            response = client.get("/search/", {"q": query, "mode": mode})
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200 and b"search-result" in response.content, (mode, query)
        return statistics.median(times)

    began = time.perf_counter()
    client.get("/search/", {"q": "warm up", "mode": "meaning"})
    cold_ms = (time.perf_counter() - began) * 1000
    results = {
        "search": db,
        "messages": messages,
        "passages": Passage.objects.filter(owner=owner).count(),
        "seed_s": round(seeded, 1),
        "capture_messages_per_s": round(captured / capture_s),
        "index_messages_per_s": round(embedded / index_s),
        "meaning_first_search_ms": round(cold_ms, 1),
        # Each query once per mode; the query's embedding call is in "meaning" and "both".
        "words_p50_ms": round(timed("words"), 1),
        "meaning_p50_ms": round(timed("meaning"), 1),
        "both_p50_ms": round(timed("all"), 1),
    }
    print("bench: " + " ".join(f"{key}={value}" for key, value in results.items()))


def postgres_database(server_url: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS aitre_bench WITH (FORCE)")
        admin.execute("CREATE DATABASE aitre_bench")
    parts = urlsplit(server_url)
    return parts._replace(path="/aitre_bench").geturl()


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory_gb:.0f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description="AITRE Web benchmark")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "seed", "usage", "library", "search"])
    parser.add_argument("--messages", type=int, default=50_000, help="one user's messages in the search case")
    parser.add_argument("--db", default="postgres", help="search: the database the child runs on (for its line)")
    parser.add_argument("--images", type=int, default=2000, help="images in the media library case")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--slow", type=int, default=0, help="seed: users whose replies come slowly")
    parser.add_argument("--lengths", default="", help="seed: reply lengths in tokens, ten users each")
    parser.add_argument("--records", type=int, default=1_000_000, help="usage records for the dashboard case")
    parser.add_argument("--only", choices=["chat", "usage", "search"], help="run one part of the bench")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()
    if args.command == "seed":
        seed(args.users, args.slow, tuple(int(n) for n in args.lengths.split(",") if n))
        return
    if args.command == "usage":
        seed_and_time_usage(args.records)
        return
    if args.command == "library":
        seed_and_time_library(args.images)
        return
    if args.command == "search":
        seed_and_time_search(args.messages, args.db)
        return

    steady_ns = [1, 10] if args.quick else [1, 10, 50, 100, 200]
    seconds = 6.0 if args.quick else 20.0
    open_n = 50 if args.quick else 500
    print(f"AITRE Web bench, {time.strftime('%Y-%m-%d %H:%M %Z')}, on {machine()}", flush=True)
    lines: list[str] = []
    if args.only in (None, "chat"):
        lines += chat_scenarios(args, steady_ns, seconds, open_n)
    if args.only in (None, "usage"):
        lines.append(usage_dashboard(args.postgres, 100_000 if args.quick else args.records))
        lines.append(media_library(args.postgres, args.images))
    if args.only in (None, "search"):
        lines += search_history(args.postgres, 5_000 if args.quick else args.messages)
    print()
    for line in lines:
        print(line)
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    (results / "latest.txt").write_text(f"{time.strftime('%Y-%m-%d')} {machine()}\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
