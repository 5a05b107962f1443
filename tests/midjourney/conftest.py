from collections.abc import Callable

import pytest

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


def settled(task: MidjourneyTask, *statuses: str) -> Callable[[], bool]:
    def check() -> bool:
        task.refresh_from_db()
        return task.status in (statuses or MidjourneyTask.ENDED)

    return check
