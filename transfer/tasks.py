"""
The worker's jobs (Django's tasks framework, run by ``manage.py worker``).
Each is defined beside the work it runs; a job queued before they moved
names this module, so it is named here too.
"""

from .archive import build_export
from .importing import run_import

__all__ = ["build_export", "run_import"]
