"""
The job centre's sources: each feature with background work (Midjourney
tasks, studio runs, audio files, imports and exports) registers, from its
AppConfig.ready(), how to list a user's latest jobs as ``Job``s, and what
the worker's sweep does for it. The job centre knows no feature.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts.models import User


@dataclass(frozen=True)
class Job:
    # Unique across features ("mj-12", "image-3"): the page and the browser's notifications key on it.
    key: str
    kind: str
    title: str
    status: str
    running: bool
    url: str
    started_at: datetime
    finished_at: datetime | None = None
    # Percent done, when the work says so.
    progress: int | None = None
    # Waiting for the person (a Midjourney window), or ended in failure.
    waiting: bool = False
    failed: bool = False
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "title": self.title,
            "status": self.status,
            "running": self.running,
            "waiting": self.waiting,
            "failed": self.failed,
            "progress": self.progress,
            "url": self.url,
            "detail": self.detail,
        }


def in_process_runs(runs: Any, limit: int, *, prefix: str, kind: str, title: Callable[[Any], str]) -> list[Job]:
    """
    A feature's ``jobs.runs.InProcessRun`` rows as jobs (studio runs, audio
    files). Runs whose process died are settled, by their kind's own rule,
    only when one of them is among those shown: the job centre asks every
    second or two, and a write each time would be for nothing.
    """
    shown = list(runs[:limit])
    if any(run.is_stale for run in shown):
        runs.settle_stale()
        shown = list(runs[:limit])
    return [
        Job(
            key=f"{prefix}-{run.pk}",
            kind=kind,
            title=title(run),
            status=run.get_status_display(),
            running=run.is_running,
            failed=run.can_retry,
            url=run.get_absolute_url(),
            started_at=run.created_at,
            finished_at=None if run.is_running else run.updated_at,
            detail=run.error,
        )
        for run in shown
    ]


JobSource = Callable[[User, int], list[Job]]
_sources: dict[str, JobSource] = {}


def register(name: str, source: JobSource) -> JobSource:
    _sources[name] = source
    return source


def recent(user: User, limit: int = 30) -> list[Job]:
    """The user's jobs of every kind: running first, then the latest, at most ``limit``."""
    jobs = [job for source in _sources.values() for job in source(user, limit)]
    jobs.sort(key=lambda job: (not job.running, not job.waiting, -job.started_at.timestamp()))
    return jobs[:limit]


# Work the worker's sweep does every WORKER_SWEEP_SECONDS (see jobs' worker command), by feature.
_sweeps: dict[str, Callable[[], Any]] = {}


def register_sweep(name: str, sweep: Callable[[], Any]) -> None:
    _sweeps[name] = sweep


def sweeps() -> dict[str, Callable[[], Any]]:
    return dict(_sweeps)
