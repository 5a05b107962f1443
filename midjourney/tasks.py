"""The worker's jobs (Django's tasks framework, run by ``manage.py worker``)."""

from django.tasks import task

from . import work


@task()
def poll(task_pk: int, poll_round: int) -> None:
    """One fetch of a Midjourney task; the next is queued by the fetch itself (see midjourney.work)."""
    work.poll(task_pk, poll_round)
