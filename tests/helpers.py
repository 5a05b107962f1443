"""Small things several test modules need."""

import threading
import time
from collections.abc import Callable

from django.db import connection

from chat.models import Conversation, Message

# What the page's script sends as Accept: refusals come back as JSON.
JSON = {"HTTP_ACCEPT": "application/json"}


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


def alices_state() -> list:
    """Everything a refused request must leave as it was."""
    return [
        list(Conversation.objects.values_list("pk", "title", "pinned", "model", "system_prompt", "current_leaf_id")),
        list(Message.objects.values_list("pk", "content", "status", "cancel_requested")),
    ]
