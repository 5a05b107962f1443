"""
gunicorn settings, used by the Procfile and by `make bench`.

gevent workers: a reply being generated and every event stream following
one is a greenlet, not an OS thread, so hundreds of open streams fit in a
small process. requests and psycopg 3 cooperate with gevent once patched.
"""

import multiprocessing
import os

# Read by gevent and psycopg in each worker (set here, before they start),
# measured with `make bench` under load:
# - gevent's default resolver hands every getaddrinfo to a native thread,
#   which then waits for the GIL behind a busy loop; c-ares stays in the loop.
# - psycopg's poll-based wait, through gevent's patched poll, took ~15 ms per
#   query at 100 streams a worker; its select-based wait ~3 ms (gevent's
#   select has no FD_SETSIZE limit).
os.environ.setdefault("GEVENT_RESOLVER", "ares")
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# Streams are long-lived; the reply engine ends its own work on an idle upstream.
timeout = 120
# On a deploy (SIGTERM), in-flight replies get this long to finish.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "25"))
keepalive = 5
accesslog = "-"
errorlog = "-"
# The platform's router terminates TLS and sets X-Forwarded-Proto.
forwarded_allow_ips = "*"


# Seconds kept back from the graceful timeout for interrupted replies' final writes.
DRAIN_MARGIN = 4


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """
    On a deploy's SIGTERM, start draining at once: replies still being
    written get the graceful timeout (less a margin) to finish; the rest are
    saved as interrupted, with their text, never left "streaming". It starts
    with the signal rather than at worker exit, because gunicorn waits for
    every open connection (idle keep-alives too) before the worker exits.
    """
    import signal
    import threading

    import gevent
    from gevent import monkey

    from chat import live

    handle_exit = worker.handle_exit

    def drain_and_exit(sig, frame):  # type: ignore[no-untyped-def]
        handle_exit(sig, frame)
        budget = graceful_timeout - DRAIN_MARGIN
        if monkey.is_module_patched("threading"):
            # A signal handler runs in gevent's loop, where Thread.start() may not block.
            worker.aitre_drain = gevent.spawn(_drain, worker, budget)
        else:
            worker.aitre_drain = threading.Thread(target=_drain, args=(worker, budget), daemon=True)
            worker.aitre_drain.start()

    def _drain(worker, budget):  # type: ignore[no-untyped-def]
        interrupted = live.drain(budget)
        if interrupted:
            worker.log.warning("Interrupted %d unfinished repl(ies) at shutdown", interrupted)

    signal.signal(signal.SIGTERM, drain_and_exit)
    # Replies of processes that died are settled by every live worker (chat.settling).
    live.ensure_sweeper()
    # The tokenizer's vocabulary takes 0.2 s to load: before the first request, not in it.
    from aitre import tokens

    tokens.warm()


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    """The worker may exit as soon as no request is open; the drain must end first."""
    drain = getattr(worker, "aitre_drain", None)
    if drain is not None:
        drain.join(timeout=graceful_timeout)
