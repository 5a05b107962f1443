"""
Content negotiation and refusals, written once for every view.

A page's script asks for JSON (``Accept: application/json``) or for the
event stream that answers a send (``Accept: text/event-stream,
application/json``); a browser without the script asks for HTML. Django's
``get_preferred_type`` reads the header; ``*/*`` and no header at all mean
HTML.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse

from .refusals import Refusal

HTML, JSON, EVENT_STREAM = "text/html", "application/json", "text/event-stream"


def _preferred(request: HttpRequest) -> str | None:
    return request.get_preferred_type([HTML, JSON, EVENT_STREAM])


def wants_stream(request: HttpRequest) -> bool:
    return _preferred(request) == EVENT_STREAM


def wants_json(request: HttpRequest) -> bool:
    """The page's script is asking: it takes refusals as JSON, whatever it streams."""
    return _preferred(request) in (JSON, EVENT_STREAM)


def errors_of(form: Any) -> str:
    """A form's errors as one line, for a script's ``error``."""
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def error_json(refusal: Refusal) -> JsonResponse:
    response = JsonResponse({"error": refusal.message}, status=refusal.http_status)
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def refuse(
    request: HttpRequest,
    refusal: Refusal,
    page: Callable[[int], HttpResponse],
    *,
    flash: bool = True,
) -> HttpResponse:
    """
    A clear 4xx that changes nothing: JSON for the script; without it the
    page, built by ``page`` with the status (and the text kept in its form),
    the message flashed above it unless the page shows it itself.
    """
    if wants_json(request):
        return error_json(refusal)
    if flash:
        messages.error(request, refusal.message)
    response = page(refusal.http_status)
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response
