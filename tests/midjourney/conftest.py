import time
from collections.abc import Callable

import pytest
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from midjourney.models import MidjourneyTask
from usage.models import Price


@pytest.fixture(autouse=True)
def quick_midjourney(settings):
    """Fetches every 0.2 s and short leases, against the fake gateway's 0.3 s steps."""
    settings.MIDJOURNEY_POLL_SECONDS = 0.2
    settings.MIDJOURNEY_LEASE_SECONDS = 2.0
    settings.SITE_URL = ""


@pytest.fixture
def prices(db) -> None:
    for action, cost in [("imagine", "0.10"), ("upscale", "0.05"), ("variation", "0.10"), ("modal", "0.08")]:
        Price.objects.create(model=f"mj_{action}", unit=Price.Unit.TASK, unit_price=cost)
    Price.objects.create(model="midjourney", unit=Price.Unit.TASK, unit_price="0.02")


def run_jobs(until: Callable[[], bool] | None = None, timeout: float = 20.0) -> None:
    """
    The worker's loop in this process: each queued job run as it falls due,
    until ``until()`` holds (or, without it, until no job is waiting).
    """
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="in-test",
        excluded_queue_names=[],
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until is not None and until():
            return
        ready = DBTaskResult.objects.ready().first()
        if ready is not None:
            ready.claim("in-test")
            worker.run_task(ready)
            continue
        if until is None and not DBTaskResult.objects.filter(status="READY").exists():
            return
        time.sleep(0.05)
    raise AssertionError("the jobs did not get there in time")


def settled(task: MidjourneyTask, *statuses: str) -> Callable[[], bool]:
    def check() -> bool:
        task.refresh_from_db()
        return task.status in (statuses or MidjourneyTask.ENDED)

    return check
