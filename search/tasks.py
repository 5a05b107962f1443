"""The worker's jobs (Django's tasks framework, run by ``manage.py worker``)."""

from django.tasks import task

from . import indexing


@task()
def embed_passages(owner_id: int) -> None:
    """Embed one owner's waiting passages (queued when a message is written, and by the sweep)."""
    indexing.embed_pending(owner_id)


@task()
def reindex() -> None:
    """Queue every owner's passages for the current embedding model (after the admin changed it)."""
    indexing.reindex()
