"""The real worker process (``manage.py worker``) following tasks: killed mid-fetch, and two at once."""

import itertools
import time

import pytest
from django.db import connection

from midjourney import submitting
from midjourney.models import MidjourneyTask
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
Status = MidjourneyTask.Status


def submitted(alice, prompt: str) -> MidjourneyTask:
    return submitting.start(alice, MidjourneyTask.Action.IMAGINE, prompt=prompt)


def status_of(task: MidjourneyTask) -> str:
    return MidjourneyTask.objects.get(pk=task.pk).status


def test_a_worker_killed_mid_fetch_loses_nothing(alice, fake, start_worker):
    fake.state.mj_step = 0.5
    task = submitted(alice, "a lighthouse in a storm")
    first = start_worker()
    wait_for(lambda: status_of(task) == Status.IN_PROGRESS, timeout=30)
    # The next fetch hangs at the gateway; the worker dies while it waits for the answer.
    fake.state.mj_fetch_delay = 5.0
    fetches = len(fake.mj_requests("fetch"))
    wait_for(lambda: len(fake.mj_requests("fetch")) > fetches, timeout=15)
    first.kill()
    fake.state.mj_fetch_delay = 0.0
    task.refresh_from_db()
    assert task.status == Status.IN_PROGRESS and task.lease_until is not None, "killed holding the task"
    start_worker()
    wait_for(lambda: status_of(task) == Status.SUCCESS, timeout=45)
    task.refresh_from_db()
    assert task.image is not None and len(fake.mj_requests("/mj/submit/imagine")) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer: two workers take turns anyway")
def test_two_workers_never_fetch_one_task_at_once(alice, fake, start_worker):
    fake.state.mj_step = 0.4
    fake.state.mj_fetch_delay = 0.1
    tasks = [submitted(alice, f"picture number {n}") for n in range(6)]
    start_worker()
    start_worker()
    wait_for(lambda: all(status_of(t) == Status.SUCCESS for t in tasks), timeout=60)
    from django_tasks_db.models import DBTaskResult

    workers = {worker for result in DBTaskResult.objects.all() for worker in result.worker_ids}
    assert len(workers) == 2, "both workers took jobs"
    for task in tasks:
        task.refresh_from_db()
        fetches = [r for r in fake.mj_requests("fetch") if f"/{task.upstream_id}/" in r.path]
        assert len(fetches) == task.polls, "no fetch ran twice"
        fetches.sort(key=lambda r: r.started)
        assert all(a.ended <= b.started for a, b in itertools.pairwise(fetches)), "never two at once"
    time.sleep(0.5)


def test_old_job_results_are_pruned(alice, fake):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from jobs.management.commands.worker import prune_results
    from tests.helpers import run_jobs
    from tests.midjourney.conftest import settled

    task = submitted(alice, "a short one")
    run_jobs(until=settled(task))
    # One job per fetch.
    assert DBTaskResult.objects.successful().count() == task.polls
    assert prune_results() == 0, "recent results are kept"
    DBTaskResult.objects.update(finished_at=timezone.now() - timedelta(days=2))
    assert prune_results() == task.polls
    assert not DBTaskResult.objects.exists()
