"""Small things several test modules need."""

import threading
import time
from collections.abc import Callable

from django.db import connection
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from chat.models import Conversation, Message

# What the page's script sends as Accept: refusals come back as JSON.
JSON = {"HTTP_ACCEPT": "application/json"}


def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def run_jobs(until: Callable[[], bool] | None = None, timeout: float = 60.0) -> None:
    """
    The worker's loop in this process: each queued job run as it falls due,
    until ``until()`` holds (or, without it, until no job is waiting).
    """
    worker = Worker(
        queue_names=["*"],
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


def hostile_conversation(owner) -> Conversation:
    """Every XSS payload as a question (shown as text) and as a model's reply (rendered markdown), one thread."""
    from chat.rendering import render_markdown
    from tests.xss_payloads import PAYLOADS

    conversation = Conversation.objects.create(owner=owner, model="gpt-4o-mini", title="Hostile")
    parent = None
    for payload in PAYLOADS:
        question = Message.objects.create(conversation=conversation, parent=parent, role="user", content=payload)
        parent = Message.objects.create(
            conversation=conversation,
            parent=question,
            role="assistant",
            content=payload,
            rendered=render_markdown(payload),
        )
    conversation.touch(current_leaf=parent)
    return conversation


def branched_conversation(owner, title: str = "Paint") -> Conversation:
    """
    A conversation with versions: a question with two replies (the second on
    show), an edited question with its own reply, and a follow-up on the
    branch shown. Oldest first: q1, r1a, r1b, q2, r2, q1-edit, r1-edit.
    """
    conversation = Conversation.objects.create(
        owner=owner, model="gpt-4o-mini", title=title, system_prompt="Answer as a painter."
    )

    def add(parent, role, content, **fields):
        return Message.objects.create(conversation=conversation, parent=parent, role=role, content=content, **fields)

    q1 = add(None, "user", "Which blue is the sky?")
    add(q1, "assistant", "Cerulean, mostly.", model="gpt-4o-mini", prompt_tokens=5, completion_tokens=3, total_tokens=8)
    r1b = add(
        q1,
        "assistant",
        "Sky blue: **cerulean** at noon.",
        model="gpt-4o",
        prompt_tokens=5,
        completion_tokens=7,
        total_tokens=12,
        ttft_ms=120,
        duration_ms=900,
    )
    q2 = add(r1b, "user", "And at dusk?")
    r2 = add(q2, "assistant", "Ultramarine, then indigo.", model="gpt-4o", status="stopped")
    q1_edit = add(None, "user", "Which green is the sea?")
    add(q1_edit, "assistant", "Viridian.", model="gpt-4o-mini")
    conversation.current_leaf = r2
    conversation.save()
    return conversation


def tree_shape(conversation: Conversation) -> list[tuple]:
    """
    A conversation's whole tree, depth first with versions in order, ids
    replaced by positions in that walk: what a round trip must keep.
    """
    messages = {m.pk: m for m in conversation.messages.all()}
    children: dict = {}
    for m in sorted(messages.values(), key=lambda m: m.pk):
        children.setdefault(m.parent_id, []).append(m)
    walk: list[Message] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        message = stack.pop()
        walk.append(message)
        stack.extend(reversed(children.get(message.pk, [])))
    position = {m.pk: n for n, m in enumerate(walk)}
    rows = [
        (
            position.get(m.parent_id),
            m.role,
            m.content,
            m.status,
            m.model,
            m.prompt_tokens,
            m.completion_tokens,
            m.total_tokens,
            m.ttft_ms,
            m.duration_ms,
            m.created_at,
        )
        for m in walk
    ]
    current = position.get(conversation.current_leaf_id)
    return [conversation.title, conversation.model, conversation.system_prompt, current, rows]
