"""
The one settings module. Every variable is read from the environment once,
typed, here; application code reads ``settings.X`` only.

Development values live in ``.env`` (see ``.env.example``). ``DEBUG`` is off
unless asked for, so a PaaS never starts in debug.
"""

import base64
import hashlib
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

# Lets the code say ModelAdmin[Conversation] and the like at run time too (mypy, in `make lint`).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# A development key only when DEBUG is on; production must set its own.
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key" if DEBUG else environ.Env.NOTSET)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Served over HTTPS (true on every PaaS): secure cookies, HSTS, redirect.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
# PaaS routers terminate TLS and say so in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# No inline script anywhere, so this policy can hold.
# Hosts whose images model output may show (https only); others become links.
CHAT_IMAGE_HOSTS = env.list("CHAT_IMAGE_HOSTS", default=[])

SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    # Model output may show images from CHAT_IMAGE_HOSTS only (see chat.rendering).
    # blob: for the composer's previews of pictures being attached (URL.createObjectURL).
    "img-src": [CSP.SELF, "data:", "blob:", *(f"https://{host}" for host in CHAT_IMAGE_HOSTS)],
    "media-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

INSTALLED_APPS = [
    "accounts",
    "aitre",
    "usage",
    "files",
    "chat",
    "images",
    "audio",
    "midjourney",
    "jobs",
    "search",
    "playground",
    "transfer",
    "sharing",
    "django_tasks_db",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Directly after SecurityMiddleware, as whitenoise asks.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "aitre_web.middleware.PrivacyHeadersMiddleware",
    # Before the CSRF check, the first to read the body.
    "aitre_web.middleware.RequestSizeLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# No GZipMiddleware: it would buffer server-sent event streams.

ROOT_URLCONF = "aitre_web.urls"
WSGI_APPLICATION = "aitre_web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "aitre_web.context_processors.site",
                "chat.extensions.context",
            ],
        },
    },
]

# An empty DATABASE_URL means the embedded default, as an unset one does.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Hold concurrent writers on the embedded default: WAL lets readers
    # proceed beside a writer, IMMEDIATE takes the write lock up front so
    # two transactions never deadlock upgrading, and the timeout waits for it.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.float("SQLITE_TIMEOUT", default=20.0),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: replies are written from their own threads, each
    # with its own connection, as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool, not persistent connections: under gevent every request and
    # every reply is its own greenlet, and each holds a connection only
    # while it talks to the database (see lib.db.release_connection).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DB_POOL_TIMEOUT", default=20.0),
    }

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions read from the cache, written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The name people see: in the top bar, page titles and the admin.
SITE_NAME = env.str("SITE_NAME", default="AITRE Web")

# "closed": admins create users; "open": anyone may sign up.
SIGNUP = env.str("SIGNUP", default="closed")
if SIGNUP not in ("open", "closed"):
    raise environ.ImproperlyConfigured("SIGNUP must be 'open' or 'closed'")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "aitre_web.storage.StaticFiles"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Never routed: files are private and served by files.views after an access check.
MEDIA_URL = "media/"

# Uploaded and generated files. The filesystem under MEDIA_ROOT by default;
# on a PaaS, whose filesystem is wiped on every deploy, an S3-compatible
# bucket (AWS, R2, B2, MinIO...). The bucket stays private: files are
# handed out as signed URLs that expire after FILES_SIGNED_URL_SECONDS.
FILES_SIGNED_URL_SECONDS = env.int("FILES_SIGNED_URL_SECONDS", default=300)
S3_BUCKET = env("S3_BUCKET", default="")
if S3_BUCKET:
    S3_ENDPOINT_URL = env("S3_ENDPOINT_URL", default="")
    S3_REGION = env("S3_REGION", default="us-east-1")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": S3_ENDPOINT_URL or None,
            "region_name": S3_REGION,
            "access_key": env("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("S3_SECRET_ACCESS_KEY", default="") or None,
            "addressing_style": env("S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
            "querystring_auth": True,
            "querystring_expire": FILES_SIGNED_URL_SECONDS,
            "default_acl": None,
            "file_overwrite": False,
        },
    }
    # A signed URL is where the browser is sent for a file: images may load from there.
    # A signed URL is where the browser is sent for a file: images and audio may load from there.
    bucket_origin = S3_ENDPOINT_URL.rstrip("/") if S3_ENDPOINT_URL else f"https://s3.{S3_REGION}.amazonaws.com"
    SECURE_CSP["img-src"].append(bucket_origin)
    SECURE_CSP["media-src"].append(bucket_origin)

# Tracebacks in error reports are scrubbed of API keys (aitre_web/reporting.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "aitre_web.reporting.KeySafeExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}},
}

# --- The AITRE API -----------------------------------------------------------
# Fallback credentials when none is stored in the admin.
AITRE_BASE_URL = env.str("AITRE_BASE_URL", default="").rstrip("/")
AITRE_API_KEY = env.str("AITRE_API_KEY", default="")
AITRE_DEFAULT_MODEL = env.str("AITRE_DEFAULT_MODEL", default="gpt-4o-mini")
# Every chat request carries max_tokens: some servers generate until their
# context is full otherwise. Per-model values are set in the admin.
AITRE_DEFAULT_MAX_TOKENS = env.int("AITRE_DEFAULT_MAX_TOKENS", default=4096)
AITRE_DEFAULT_CONTEXT_TOKENS = env.int("AITRE_DEFAULT_CONTEXT_TOKENS", default=32000)
AITRE_MODELS_CACHE_SECONDS = env.int("AITRE_MODELS_CACHE_SECONDS", default=300)
AITRE_CONNECT_TIMEOUT = env.float("AITRE_CONNECT_TIMEOUT", default=10.0)
AITRE_READ_TIMEOUT = env.float("AITRE_READ_TIMEOUT", default=120.0)
# Idle time allowed between two bytes of a stream, not a total.
AITRE_STREAM_IDLE_TIMEOUT = env.float("AITRE_STREAM_IDLE_TIMEOUT", default=60.0)
# Pause between reads of a stream once text flows, so one read takes several
# tokens (0 reads each token as it comes; costs more CPU per reply).
AITRE_STREAM_READ_INTERVAL = env.float("AITRE_STREAM_READ_INTERVAL", default=0.1)

# Key material for API keys stored in the database: Fernet keys, newest
# first. Keep the old one listed while `manage.py rotate_api_keys` runs.
# Without it, one key is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS",
    default=[base64.urlsafe_b64encode(hashlib.sha256(f"aitre-keys:{SECRET_KEY}".encode()).digest()).decode()],
)

# --- Chat limits -------------------------------------------------------------
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=100_000)
CHAT_MAX_SYSTEM_PROMPT_CHARS = env.int("CHAT_MAX_SYSTEM_PROMPT_CHARS", default=20_000)
# A process writes a heartbeat for each reply it is generating this often;
# a reply still "streaming" with no write for the stale time belongs to a
# process that died, and is shown as interrupted.
CHAT_HEARTBEAT_SECONDS = env.float("CHAT_HEARTBEAT_SECONDS", default=5.0)
CHAT_STALE_STREAM_SECONDS = env.float("CHAT_STALE_STREAM_SECONDS", default=30.0)
# Every process looks for such replies this often, and settles them with
# their usage, even when nobody opens them (0: only when someone looks).
CHAT_SWEEP_SECONDS = env.float("CHAT_SWEEP_SECONDS", default=10.0)
# Seconds between keep-alive comments on an idle event stream; PaaS routers
# cut a response after 55 s of silence.
CHAT_KEEPALIVE_SECONDS = env.float("CHAT_KEEPALIVE_SECONDS", default=15.0)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# --- Work that outlasts a request ---------------------------------------------
# Django's tasks framework, queued in the site's own database (no other
# service), run by `manage.py worker` (the Procfile's worker line).
# Three queues, each with a worker process of its own (jobs' worker command):
# short jobs (embedding, Midjourney, a picture's fetch) never wait behind an
# account's export or a 40,000-message import, nor an export behind an import.
WORKER_QUEUES = ("default", "exports", "imports")
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": list(WORKER_QUEUES)}}
# The worker looks for work whose worker died (and settles it) this often.
WORKER_SWEEP_SECONDS = env.float("WORKER_SWEEP_SECONDS", default=15.0)
# A worker process that holds more than this after a job (a large import) ends
# and is started afresh, giving its memory back.
WORKER_MAX_MEMORY_MB = env.int("WORKER_MAX_MEMORY_MB", default=200)
# The site's public address (https://chat.example.com): Midjourney then
# calls back with progress instead of being asked every few seconds.
SITE_URL = env.str("SITE_URL", default="").rstrip("/")

# --- Midjourney ---------------------------------------------------------------
# The base pause between two fetches of a running task (the first comes
# sooner, long tasks are asked less often, a callback brings one forward).
MIDJOURNEY_POLL_SECONDS = env.float("MIDJOURNEY_POLL_SECONDS", default=3.0)
# A task whose progress has not moved for this long is marked stalled and
# asked again; still not moving after as long again, it is failed.
MIDJOURNEY_STALL_SECONDS = env.float("MIDJOURNEY_STALL_SECONDS", default=300.0)
# No task runs longer than this (relax mode can take half an hour).
MIDJOURNEY_GIVE_UP_SECONDS = env.float("MIDJOURNEY_GIVE_UP_SECONDS", default=1800.0)
# A replaced preview is deleted this long after: a page following the task may still be loading it.
MIDJOURNEY_PREVIEW_SECONDS = env.float("MIDJOURNEY_PREVIEW_SECONDS", default=120.0)
# A worker holds a task this long while it asks for it; a worker killed
# meanwhile lets the next one take over after it.
MIDJOURNEY_LEASE_SECONDS = env.float("MIDJOURNEY_LEASE_SECONDS", default=90.0)

# --- Search ------------------------------------------------------------------
# The language of PostgreSQL's full-text index (a text search configuration:
# english, german, simple...), fixed when the index is made by `migrate`;
# SQLite stems English words. Chinese is found on both (see search.text).
SEARCH_LANGUAGE = env.str("SEARCH_LANGUAGE", default="english")
# Embed messages for search by meaning in the worker (needs a model with the
# embeddings capability; without one, search is by words only).
SEARCH_EMBED = env.bool("SEARCH_EMBED", default=True)
# Embedding models besides text-embedding-3 that take the "dimensions" parameter.
SEARCH_SHORTENS_VECTORS = env.list("SEARCH_SHORTENS_VECTORS", default=[])
# What each process keeps of users' vectors for search by meaning, in MB.
SEARCH_VECTOR_CACHE_MB = env.int("SEARCH_VECTOR_CACHE_MB", default=256)
# Passages less similar than this to the query are not results by meaning (cosine, -1 to 1).
SEARCH_MIN_SIMILARITY = env.float("SEARCH_MIN_SIMILARITY", default=0.25)

# --- Export, import and sharing -----------------------------------------------
# The largest file an import takes (ChatGPT's conversations.json of a heavy user is tens of MB).
IMPORT_MAX_MB = env.int("IMPORT_MAX_MB", default=50)
# An account's export zip is deleted (by the worker) this many days after it was asked for.
EXPORT_KEEP_DAYS = env.int("EXPORT_KEEP_DAYS", default=7)

# --- Usage and quotas -------------------------------------------------------
# Prices, costs and cost limits are all in this one currency (an ISO code).
USAGE_CURRENCY = env.str("USAGE_CURRENCY", default="USD")
# Quota periods and usage days begin at midnight here (weeks on Monday).
USAGE_TIME_ZONE = env.str("USAGE_TIME_ZONE", default=TIME_ZONE)

# --- Abuse limits -------------------------------------------------------------
# Failed logins before a lock-out, per account and per address, and its length.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# Proxies in front of the app that append to X-Forwarded-For (a PaaS router: 1).
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
# Messages one user may send (or regenerate, or edit) per minute; 0: no limit.
CHAT_SENDS_PER_MINUTE = env.int("CHAT_SENDS_PER_MINUTE", default=20)
# Adds /__probe__/500, which fails on purpose: for smoke tests after a deploy.
ERROR_PROBE = env.bool("ERROR_PROBE", default=False)

# --- The completions playground -------------------------------------------------
# The longest prompt a run may send, in characters.
PLAYGROUND_MAX_PROMPT_CHARS = env.int("PLAYGROUND_MAX_PROMPT_CHARS", default=100_000)
