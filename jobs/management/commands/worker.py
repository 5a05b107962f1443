"""
The worker (the Procfile's ``worker`` line, and ``make run``'s).

``manage.py worker`` is a small supervisor: it starts one worker process a
queue (``WORKER_QUEUES``: short jobs, exports, imports; so no job waits
behind a long one of another kind) and starts again any that exits, at once
when it ended on purpose, after a growing pause (1 s up to 30 s) when it
died. ``manage.py worker --queue-name NAME`` is one such process:
django-tasks-db's ``db_worker`` (with PostgreSQL, two workers never take
one job: rows are claimed with SKIP LOCKED), made to outlive a busy
database (a transient database error is waited out with backoff, never an
exit), to give its memory back (past WORKER_MAX_MEMORY_MB after a job it
ends, and is started afresh), and to say it is alive (jobs.presence).

The default queue's process also runs the sweep, at start and then every
WORKER_SWEEP_SECONDS: each feature's registered sweep
(``jobs.registry.register_sweep``: Midjourney hands over tasks whose worker
died and settles lost submits; search indexes what a missed signal left
out; imports and exports whose worker died are settled), then the queue's
old results are pruned: each fetch of a Midjourney task is a job, and their
rows would pile up forever.
"""

import contextlib
import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, connections
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from jobs import background, presence
from jobs.registry import sweeps

logger = logging.getLogger("aitre_web.worker")


# Finished jobs are kept this long for the admin to read (failures, with their traceback, longer).
KEEP_SUCCEEDED = timedelta(days=1)
KEEP_FAILED = timedelta(days=7)
PRUNE_BATCH = 5000
# A transient database error (SQLite's "database is locked", a PostgreSQL restart) is waited out.
FIRST_PAUSE, LONGEST_PAUSE = 1.0, 30.0
# A process that lived this long before dying starts its next life with the first pause again.
STEADY_SECONDS = 60.0


def prune_results() -> int:
    """Old finished jobs, and jobs left "running" by a worker that died a week ago, deleted in bounded batches."""
    now = timezone.now()
    deleted = 0
    for old in (
        DBTaskResult.objects.successful().filter(finished_at__lt=now - KEEP_SUCCEEDED),
        DBTaskResult.objects.failed().filter(finished_at__lt=now - KEEP_FAILED),
        DBTaskResult.objects.running().filter(started_at__lt=now - KEEP_FAILED),
    ):
        ids = list(old.values_list("pk", flat=True)[:PRUNE_BATCH])
        deleted += DBTaskResult.objects.filter(pk__in=ids).delete()[0]
    return deleted


def sweep_once() -> None:
    for name, sweep in sweeps().items():
        try:
            close_old_connections()
            done = sweep()
            # A count, or counts (Midjourney: lost submits settled, tasks handed over): said when not nothing.
            if any(done) if isinstance(done, tuple) else done:
                logger.info("Sweep (%s): %s", name, done)
        except Exception:
            logger.exception("The %s sweep failed; it runs again shortly", name)
        finally:
            connection.close()
    try:
        pruned = prune_results() + presence.prune()
        if pruned:
            logger.info("Sweep: %s old job results pruned", pruned)
    finally:
        connection.close()


def _sweep_forever(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            sweep_once()
        except Exception:
            logger.exception("The sweep failed; it runs again shortly")
        background.pause(stop, settings.WORKER_SWEEP_SECONDS)


def resident_mb() -> float:
    """This process's resident memory now (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
    except (OSError, ValueError, IndexError):
        return 0.0


def _give_memory_back() -> None:
    # glibc keeps freed memory for reuse; after a large import ask it to return what it can.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class SturdyWorker(Worker):
    """db_worker's loop, which a transient database error no longer ends, and which ends itself when it grew large."""

    def run(self) -> None:
        pause = FIRST_PAUSE
        while self.running:
            began = time.monotonic()
            try:
                super().run()
                return
            except DatabaseError as error:
                if time.monotonic() - began > STEADY_SECONDS:
                    pause = FIRST_PAUSE  # a new outage, not the same one going on
                logger.warning("The database is unavailable (%s); the worker tries again in %.0f s", error, pause)
                connection.close()
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)

    def run_task(self, db_task_result: DBTaskResult[Any, Any]) -> None:
        super().run_task(db_task_result)
        close_old_connections()
        _give_memory_back()
        size = resident_mb()
        if size > settings.WORKER_MAX_MEMORY_MB:
            logger.info("The worker holds %.0f MB after a job; it ends, and is started afresh", size)
            self.running = False


def _die_with_parent() -> None:
    """A queue's process ends with its supervisor, even one that was killed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Supervisor:
    """
    One process a queue, each started again when it ends, until this one is
    told to stop. A queue's process is forked from this one, which has set
    Django up and opened nothing (no connection, no thread): it starts at
    once and shares the loaded code, where a new interpreter took seconds
    on a busy machine.
    """

    def __init__(self, queues: list[str], work: Callable[[str], None]) -> None:
        self.queues = queues
        self.work = work
        self.stopping = False
        self.children: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.pauses: dict[str, float] = dict.fromkeys(queues, 0.0)

    def start(self, queue: str) -> None:
        connections.close_all()
        pid = os.fork()
        if pid == 0:
            self._be_the_child(queue)
        self.children[queue] = pid
        self.started[queue] = time.monotonic()
        logger.info("Worker for the %s queue started (pid %s)", queue, pid)

    def _be_the_child(self, queue: str) -> None:
        code = 0
        try:
            _die_with_parent()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            self.work(queue)
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            logger.exception("The %s queue's worker failed", queue)
            code = 1
        finally:
            logging.shutdown()
            os._exit(code)

    def ended(self, queue: str) -> int | None:
        """The exit code of the queue's process if it has ended (negative: killed by that signal)."""
        try:
            pid, status = os.waitpid(self.children[queue], os.WNOHANG)
        except ChildProcessError:
            return 1
        return os.waitstatus_to_exitcode(status) if pid else None

    def told_to_stop(self) -> bool:
        return self.stopping

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        for pid in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def pause_after(self, queue: str, code: int) -> float:
        """How long an ended queue's process waits to start again: none when it ended on purpose (its memory)."""
        if code == 0:
            self.pauses[queue] = 0.0
            return 0.0
        steady = time.monotonic() - self.started[queue] > STEADY_SECONDS
        self.pauses[queue] = (
            FIRST_PAUSE if steady or not self.pauses[queue] else min(self.pauses[queue] * 2, LONGEST_PAUSE)
        )
        logger.error("The %s queue's worker died (exit %s); it starts again in %.0f s", queue, code, self.pauses[queue])
        return self.pauses[queue]

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.stop)
        for queue in self.queues:
            self.start(queue)
        # When each ended queue's process starts again.
        due: dict[str, float] = {}
        while not self.stopping:
            time.sleep(0.5)
            for queue in self.queues:
                if self.told_to_stop():  # a signal may come at any line
                    break
                if queue not in due:
                    code = self.ended(queue)
                    if code is None:
                        continue
                    due[queue] = time.monotonic() + self.pause_after(queue, code)
                if time.monotonic() >= due[queue]:
                    del due[queue]
                    self.start(queue)
        deadline = time.monotonic() + 30
        for queue in self.children:
            while (code := self.ended(queue)) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if code is None:  # still running after the grace time (never a pid already reaped: it may be reused)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.children[queue], signal.SIGKILL)


class Command(DatabaseWorker):
    help = "Run the background workers: one a queue, each started again if it ends, and the sweep."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--no-sweep", action="store_false", dest="sweep", help="Leave the sweep to another worker.")
        # No queue named: the supervisor, one process a queue.
        parser.set_defaults(queue_name="")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["queue_name"]:
            if options["batch"]:
                options["queue_name"] = "*"
            else:
                # --reload watches one process; a supervisor's queues are started again instead.
                first = settings.WORKER_QUEUES[0]

                def work(queue: str) -> None:
                    # Each queue's process is a worker of its own in the pool: an id of its own.
                    worker_id = f"{options['worker_id'][:48]}-{queue}"[:64]
                    self.one_queue(
                        {
                            **options,
                            "queue_name": queue,
                            "reload": False,
                            "sweep": queue == first,
                            "worker_id": worker_id,
                        }
                    )

                Supervisor(list(settings.WORKER_QUEUES), work).run()
                return
        self.one_queue(options)

    def one_queue(self, options: dict[str, Any]) -> None:
        stop = threading.Event()
        # With --reload, the watching parent does no work: only the child sweeps.
        working = not options["reload"] or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true"
        if working:
            presence.keep_marking(options["queue_name"], stop)
            if settings.WORKER_SWEEP_SECONDS > 0 and options["sweep"]:
                threading.Thread(target=_sweep_forever, args=(stop,), daemon=True, name="sweep").start()
        try:
            self.work(options)
        finally:
            stop.set()

    def work(self, options: dict[str, Any]) -> None:
        """db_worker's own handle, with the sturdy loop."""
        self.configure_logging(options["verbosity"])
        worker = SturdyWorker(
            queue_names=options["queue_name"].split(","),
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=[],
        )
        if options["reload"]:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
