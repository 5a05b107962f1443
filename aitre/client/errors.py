import email.utils
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

# What a gateway may echo back of a key ("Incorrect API key provided: sk-ab***").
_KEYLIKE = re.compile(r"\b(sk|key|ak)-[A-Za-z0-9_\-*.]{6,}", re.IGNORECASE)


class AitreError(Exception):
    """
    A failed API call, with a message fit for the user.

    ``permanent`` says whether trying again can help (a bad key cannot; an
    overloaded upstream can). ``unanswered``: the request may have arrived,
    and only its answer was lost. ``detail`` is the upstream's own text, with
    anything key-like removed, for the log and the admin.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        detail: str = "",
        permanent: bool = False,
        retry_after: float | None = None,
        unanswered: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail
        self.permanent = permanent
        self.retry_after = retry_after
        # The request may have reached the server, but its answer was lost
        # (a timeout, a cut connection): the work may be running, and billed.
        self.unanswered = unanswered

    def __str__(self) -> str:
        return self.message


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEYLIKE.sub("[redacted]", text)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - time.time())


def upstream_detail(body: bytes | str) -> tuple[str, str]:
    """
    The (message, code) of an error body in whatever shape the server chose:
    OpenAI's ``{"error": {...}}``, FastAPI's ``{"detail": ...}``, a bare
    ``{"message": ...}``, or plain text.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text.strip()[:500], ""
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error[:500], ""
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or error.get("msg") or ""
            if isinstance(message, list | dict):
                message = json.dumps(message, ensure_ascii=False)
            code = error.get("code") or error.get("type") or ""
            return str(message)[:500], str(code)
    return text.strip()[:500], ""


_QUOTA_WORDS = ("insufficient_quota", "quota", "balance", "额度", "余额")


@dataclass(frozen=True)
class _Reading:
    """What a status means to the user, and whether trying again can help."""

    message: Callable[[str], str]
    permanent: bool


# One row per status the API documents; other 4xx and 5xx fall back below.
_BY_STATUS: dict[int, _Reading] = {
    401: _Reading(
        lambda detail: _("The API rejected the site's key (401). An administrator needs to check the API key."),
        permanent=True,
    ),
    403: _Reading(
        lambda detail: _("The API refused this request (403): %(detail)s") % {"detail": detail or _("access denied")},
        permanent=True,
    ),
    404: _Reading(
        lambda detail: _("The API does not know this model or address (404). Pick another model."), permanent=True
    ),
}


def error_for_status(
    status: int, body: bytes | str, headers: dict[str, str], secrets: tuple[str, ...] = ()
) -> AitreError:
    """The error for a failed answer, worded for the user, the upstream's own words kept (redacted) as detail."""
    detail, code = upstream_detail(body)
    detail = redact(detail, secrets)
    code = redact(code, secrets)
    if status in _BY_STATUS:
        reading = _BY_STATUS[status]
        return AitreError(reading.message(detail), status=status, code=code, detail=detail, permanent=reading.permanent)
    if status == 429:
        return _rate_limited(headers, status=status, code=code, detail=detail)
    if 400 <= status < 500:
        message = _("The API could not accept this request (%(status)d): %(detail)s") % {
            "status": status,
            "detail": detail or _("no reason given"),
        }
        return AitreError(message, status=status, code=code, detail=detail, permanent=True)
    message = _("The API failed (%(status)d). Try again in a moment.") % {"status": status}
    return AitreError(message, status=status, code=code, detail=detail)


def _rate_limited(headers: dict[str, str], *, status: int, code: str, detail: str) -> AitreError:
    """429 is two things: an account out of balance (permanent), or a rate limit (retry after a while)."""
    if any(word in f"{code} {detail}".lower() for word in _QUOTA_WORDS):
        return AitreError(
            _("The API account has run out of quota or balance."),
            status=status,
            code=code,
            detail=detail,
            permanent=True,
        )
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if retry_after is not None:
        message = _("The API is rate limiting requests. Try again in %(seconds)d s.") % {
            "seconds": max(1, round(retry_after))
        }
    else:
        message = _("The API is rate limiting requests. Try again shortly.")
    return AitreError(message, status=status, code=code, detail=detail, retry_after=retry_after)
