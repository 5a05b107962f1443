"""Small things several test modules need."""

import threading
import time
from collections.abc import Callable

from django.db import connection


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def run_concurrently(work: Callable[[], None], count: int, timeout: float = 20.0) -> None:
    """``work`` in ``count`` threads at once, each closing its database connection after."""

    def closing() -> None:
        try:
            work()
        finally:
            connection.close()

    threads = [threading.Thread(target=closing) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
