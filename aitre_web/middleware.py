from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve, reverse
from django.utils import formats
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from lib.http import wants_json

# The microphone (dictation) is the only device the site uses; nothing else may be asked for.
PERMISSIONS_POLICY = "camera=(), display-capture=(), geolocation=(), microphone=(self), payment=(), usb=()"


class PrivacyHeadersMiddleware:
    """
    Pages shown to someone signed in hold their conversations: no cache,
    shared or the browser's own, keeps them (``no-store``) unless the view
    said otherwise (files revalidate, streams say no-cache). And every page
    says which devices it may ask for.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            add_never_cache_headers(response)
        return response


class RequestSizeLimitMiddleware:
    """
    A form body over DATA_UPLOAD_MAX_MEMORY_SIZE (a huge paste) is answered
    like a message over the length limit: a plain 413 saying so, nothing
    changed, no traceback in the log. Django would raise RequestDataTooBig
    wherever the body is first read (the CSRF check) and answer a bare 400.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.get_response(request)
        if request.path_info == reverse("transfer:import"):
            # An import is one file, bounded by its own limit (transfer.importing).
            if _content_length(request) > settings.IMPORT_MAX_MB * 1024 * 1024 + int(
                settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            ):
                message = _("The file is too large: an import takes at most %(size)d MB.") % {
                    "size": settings.IMPORT_MAX_MB
                }
                return _answer(request, message)
        elif _files_too_large(request):
            return too_large_files(request)
        try:
            request.POST  # noqa: B018 (read here, where being too large can be answered plainly)
        except RequestDataTooBig:
            return too_large(request)
        return self.get_response(request)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _files_too_large(request: HttpRequest) -> bool:
    """
    A body with files larger than every image a message may carry at the
    admin's limits, and its text: refused before a byte of it is read
    (Django spools uploads to disk whatever their size).
    """
    if not (request.content_type or "").startswith("multipart/"):
        return False
    length = _content_length(request)
    from files import policy

    limits = policy.current()
    allowed = limits.max_upload_bytes * limits.max_images_per_message + int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return length > allowed


def too_large_files(request: HttpRequest) -> HttpResponse:
    from files import policy

    limits = policy.current()
    message = ngettext(
        "This is too much to send at once: at most %(count)d image of %(size)d MB may go with a message. "
        "Your text is kept.",
        "This is too much to send at once: at most %(count)d images of %(size)d MB each may go with a message. "
        "Your text is kept.",
        limits.max_images_per_message,
    ) % {"count": limits.max_images_per_message, "size": limits.max_upload_mb}
    return _answer(request, message)


def too_large(request: HttpRequest) -> HttpResponse:
    """A 413 in the words of the page it came from: a chat message's length, else the size of any form."""
    try:
        in_chat = resolve(request.path_info).app_name == "chat"
    except Resolver404:
        in_chat = False
    if in_chat:
        message = _("This is too long to send: a message may have at most %(limit)s characters. Your text is kept.") % {
            "limit": formats.number_format(settings.CHAT_MAX_MESSAGE_CHARS, force_grouping=True)
        }
    else:
        message = _("This is too large to send: at most %(size)s of text may be sent at once.") % {
            "size": filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        }
    return _answer(request, message)


def _answer(request: HttpRequest, message: str) -> HttpResponse:
    """A 413 with ``message``: JSON for the page's scripts, else the page."""
    if wants_json(request):
        return JsonResponse({"error": message}, status=413)
    return render(request, "413.html", {"message": message}, status=413)
