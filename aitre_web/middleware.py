from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import formats
from django.utils.translation import gettext as _


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
        if request.method == "POST":
            try:
                request.POST  # noqa: B018 (read here, where being too large can be answered plainly)
            except RequestDataTooBig:
                return too_large(request)
        return self.get_response(request)


def too_large(request: HttpRequest) -> HttpResponse:
    message = _("This is too long to send: a message may have at most %(limit)s characters. Your text is kept.") % {
        "limit": formats.number_format(settings.CHAT_MAX_MESSAGE_CHARS, force_grouping=True)
    }
    accept = request.headers.get("Accept", "")
    if "application/json" in accept or "text/event-stream" in accept:
        return JsonResponse({"error": message}, status=413)
    return render(request, "413.html", {"message": message}, status=413)
