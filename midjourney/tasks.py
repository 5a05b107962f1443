"""
The worker's jobs (Django's tasks framework, run by ``manage.py worker``).
Each is defined beside the work it runs (a fetch queues the next itself);
a job queued before they moved names this module, so it is named here too.
"""

from .polling import poll

__all__ = ["poll"]
