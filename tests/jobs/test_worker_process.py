"""
The real worker (``manage.py worker``, as the Procfile and ``make run`` start
it): one process a queue, each started again when it dies, none ended by a
busy database, and no job waiting behind a long one of another queue.
"""

import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from chat.models import Conversation
from jobs.models import WorkerPresence
from tests.helpers import wait_for
from tests.transfer import chatgpt
from transfer import tasks
from transfer.models import Export, Import

pytestmark = pytest.mark.django_db(transaction=True)


def pids() -> dict[str, int]:
    """The live worker processes by queue, as each last said it was alive (the newest for each queue)."""
    found = {}
    for presence in WorkerPresence.objects.order_by("seen_at"):
        found[presence.queues] = int(presence.name.split(":")[-2])
    return found


def queued_import(owner, body: bytes | None) -> Import:
    """An import whose stored file is ``body``; None: a pipe nothing has written yet (the worker's read waits on it)."""
    record = Import.objects.create(owner=owner, name="conversations.json")
    record.upload.name = f"imports/{owner.pk}/{record.pk.hex}.json"
    record.save()
    path = Path(settings.MEDIA_ROOT) / record.upload.name
    path.parent.mkdir(parents=True, exist_ok=True)
    if body is None:
        os.mkfifo(path)
    else:
        path.write_bytes(body)
    tasks.run_import.enqueue(str(record.pk))
    return record


def status(record: Import) -> str:
    return Import.objects.get(pk=record.pk).status


def test_a_killed_queue_worker_comes_back_and_takes_jobs_again(alice, start_worker):
    worker = start_worker()
    wait_for(lambda: set(pids()) == set(settings.WORKER_QUEUES))
    dead = pids()["imports"]
    os.kill(dead, signal.SIGKILL)
    wait_for(lambda: pids().get("imports") not in (None, dead))
    record = queued_import(alice, json.dumps(chatgpt.export()).encode())
    wait_for(lambda: status(record) == "done")
    assert Conversation.objects.filter(owner=alice).count() == 2
    assert "The imports queue's worker died (exit -9); it starts again in 1 s" in worker.log.read_text()


def test_a_long_import_holds_up_no_export(alice, start_worker):
    start_worker()
    held = queued_import(alice, None)
    wait_for(lambda: status(held) == "importing")
    export = Export.objects.create(owner=alice)
    tasks.build_export.enqueue(str(export.pk))
    wait_for(lambda: Export.objects.get(pk=export.pk).status == "ready")
    assert status(held) == "importing", "the export did not wait for it"
    # The import's file arrives at last; it ends as any import does.
    with open(Path(settings.MEDIA_ROOT) / held.upload.name, "wb") as pipe:
        pipe.write(json.dumps(chatgpt.export()).encode())
    wait_for(lambda: status(held) == "done")


def test_a_worker_past_its_memory_bound_is_started_afresh(alice, start_worker):
    worker = start_worker(WORKER_MAX_MEMORY_MB="1")
    wait_for(lambda: "imports" in pids())
    first = pids()["imports"]
    record = queued_import(alice, json.dumps(chatgpt.export()).encode())
    wait_for(lambda: status(record) == "done")
    wait_for(lambda: pids().get("imports") not in (None, first))
    log = worker.log.read_text()
    assert "after a job; it ends, and is started afresh" in log and "died" not in log


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's lock: a write held past the timeout")
def test_a_locked_database_is_waited_out_and_the_worker_never_exits(alice, start_worker):
    worker = start_worker(SQLITE_TIMEOUT="0.2")
    wait_for(lambda: set(pids()) == set(settings.WORKER_QUEUES))
    before = pids()
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        wait_for(lambda: "The database is unavailable" in worker.log.read_text())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    record = queued_import(alice, json.dumps(chatgpt.export()).encode())
    wait_for(lambda: status(record) == "done")
    assert pids() == before, "no process ended"
    assert "died" not in worker.log.read_text()
