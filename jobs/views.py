"""The job centre: every slow job of the user's, of every kind, followed live."""

import json
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from lib import sse
from lib.db import release_connection

from . import registry

JOBS_SHOWN = 40
POLL_SECONDS = 1.5
# How often a stream asked to stay looks while nothing runs (a job may start in another tab).
IDLE_POLL_SECONDS = 2.0
# A stream lasts at most this long; the browser's EventSource comes back by itself.
STREAM_SECONDS = 600


@login_required
@require_GET
def page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "jobs/page.html", {"jobs": registry.recent(request.user, JOBS_SHOWN)})


def _snapshot(request: AuthenticatedHttpRequest) -> dict[str, Any]:
    jobs = registry.recent(request.user, JOBS_SHOWN)
    return {
        "running": sum(1 for job in jobs if job.running),
        "jobs": [job.as_json() for job in jobs],
        "html": render_to_string("jobs/_list.html", {"jobs": jobs}, request),
    }


def _events(request: AuthenticatedHttpRequest, stay: bool) -> Iterator[bytes]:
    """
    The list each time it changes. A page that only shows the count lets the
    stream go when nothing runs; the job centre, and a page that notifies,
    ask it to ``stay``: a job started in another tab then shows at once, and
    a fast one is seen running and ending (its notification is not missed).
    """
    yield sse.comment("following")
    started = time.monotonic()
    quiet = sse.Quiet(settings.CHAT_KEEPALIVE_SECONDS)
    shown = None
    while time.monotonic() - started < STREAM_SECONDS:
        snapshot = _snapshot(request)
        state = json.dumps(snapshot["jobs"], sort_keys=True)
        if state != shown:
            shown = state
            quiet.spoke()
            yield sse.event("jobs", snapshot)
        elif (keep_alive := quiet.keep_alive()) is not None:
            yield keep_alive
        if not snapshot["running"] and not stay:
            # Nothing moving: the browser asks again later rather than holding a connection open.
            yield sse.event("idle", {})
            return
        release_connection()
        time.sleep(POLL_SECONDS if snapshot["running"] else IDLE_POLL_SECONDS)


@login_required
@require_GET
def events(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """The user's jobs as server-sent events: the whole list each time anything in it changes."""
    return sse.response(_events(request, stay=request.GET.get("stay") == "1"))
