"""
gunicorn settings, used by the Procfile and by `make bench`.

gevent workers: a reply being generated and every event stream following
one is a greenlet, not an OS thread, so hundreds of open streams fit in a
small process. requests and psycopg 3 cooperate with gevent once patched.
"""

import multiprocessing
import os

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
