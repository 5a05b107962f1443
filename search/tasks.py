"""
The worker's jobs (Django's tasks framework, run by ``manage.py worker``).
Each is defined beside the work it runs; a job queued before they moved
names this module, so it is named here too.
"""

from .embedding import embed_passages
from .embedding import reindex_passages as reindex

__all__ = ["embed_passages", "reindex"]
