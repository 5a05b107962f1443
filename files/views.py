"""
Serving private files: after the access check, the bytes from the
filesystem with long cache headers (a file never changes under its id), or,
on S3, a redirect to a signed URL that expires within minutes. From the
filesystem, one byte range is served on request (206), so audio can be
played from the middle and a long recording scrubbed through.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from lib.http import wants_json

from . import sources
from .access import readable_by
from .models import StoredFile

# The media library shows this many images a page (thumbnails load lazily).
LIBRARY_PAGE = 60
# What a library tile needs (not the size or content type).
LIBRARY_FIELDS = ("id", "owner_id", "source", "name", "model", "prompt", "width", "height", "origin_id", "created_at")

# Private (never in a shared cache), and asked again each time (a 304 while it is the same):
# the bytes under an id never change, but the owner may delete the file, and then it must go.
CACHE_REVALIDATED = "private, no-cache"


# One range of bytes ("bytes=0-499", "bytes=500-", "bytes=-500"); a list of ranges is answered whole.
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 64 * 1024


class Unsatisfiable(Exception):
    """A range outside the file: 416."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte asked for (inclusive), or None for the whole file."""
    match = _RANGE.match(header.strip())
    if not match or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:
        # The last N bytes.
        length = int(last)
        if length == 0:
            raise Unsatisfiable
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise Unsatisfiable
    return start, end


def _slice(field: FieldFile, start: int, end: int) -> Iterator[bytes]:
    with field.open("rb") as handle:
        handle.seek(start)
        left = end - start + 1
        while left > 0 and (data := handle.read(min(_CHUNK, left))):
            left -= len(data)
            yield data


def _local(request: HttpRequest, field: FieldFile, content_type: str) -> HttpResponseBase:
    """The file's bytes, or the one range asked for."""
    size = field.size
    try:
        wanted = byte_range(request.headers.get("Range", ""), size)
    except Unsatisfiable:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    response: HttpResponseBase
    if wanted is None:
        response = FileResponse(field.open("rb"), content_type=content_type)
    else:
        start, end = wanted
        response = StreamingHttpResponse(_slice(field, start, end), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response


def serve_field(
    request: HttpRequest, field: FieldFile, content_type: str, filename: str, *, attachment: bool = False
) -> HttpResponseBase:
    """A private file from storage: read through this process, or a short-lived signed URL (S3)."""
    download = attachment or "download" in request.GET
    disposition = content_disposition_header(download, filename)
    name = field.name or ""
    etag = f'"{name.rsplit("/", 1)[-1]}"'
    response: HttpResponseBase
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    elif _is_local(field):
        response = _local(request, field, content_type)
        if disposition:
            response["Content-Disposition"] = disposition
    else:
        signing: Any = field.storage  # django-storages' S3Storage.url takes these; Storage.url does not
        url = signing.url(
            name,
            parameters={"ResponseContentDisposition": disposition or "inline", "ResponseContentType": content_type},
            expire=settings.FILES_SIGNED_URL_SECONDS,
        )
        response = HttpResponseRedirect(url)
        # The redirect is good for less time than the signature it carries.
        response["Cache-Control"] = f"private, max-age={max(0, settings.FILES_SIGNED_URL_SECONDS - 60)}"
        return response
    response["Cache-Control"] = CACHE_REVALIDATED
    response["ETag"] = etag
    return response


def _is_local(field: FieldFile) -> bool:
    try:
        field.storage.path(field.name or "")
    except NotImplementedError:
        return False
    return True


def _readable(request: HttpRequest, pk: Any) -> StoredFile:
    # A visitor gets the same 404 as a stranger: no login page that says a file is there.
    stored = readable_by(request.user, pk)
    if stored is None:
        raise Http404
    return stored


@require_GET
def serve(request: HttpRequest, pk: Any) -> HttpResponseBase:
    stored = _readable(request, pk)
    return serve_field(request, stored.blob, stored.content_type, stored.download_name)


@require_GET
def thumbnail(request: HttpRequest, pk: Any) -> HttpResponseBase:
    """Made when the file was kept: serving one never decodes the original."""
    stored = _readable(request, pk)
    if not stored.thumbnail:
        return serve_field(request, stored.blob, stored.content_type, stored.download_name)
    return serve_field(request, stored.thumbnail, "image/webp", stored.download_name)


_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Tile:
    """One image of the library, its addresses made without a reverse() each (a page has sixty)."""

    file: StoredFile
    origin: tuple[str, str] | None
    url: str
    thumbnail_url: str
    delete_url: str

    @classmethod
    def of(cls, stored: StoredFile, origin: tuple[str, str] | None) -> "Tile":
        pk = str(stored.pk)
        return cls(
            stored,
            origin,
            _SERVE().replace(_PLACEHOLDER, pk),
            _THUMBNAIL().replace(_PLACEHOLDER, pk),
            _DELETE().replace(_PLACEHOLDER, pk),
        )


def _address(name: str) -> Any:
    return lambda: reverse(name, args=[_PLACEHOLDER])


_SERVE, _THUMBNAIL, _DELETE = _address("files:serve"), _address("files:thumbnail"), _address("files:delete")


@login_required
@require_GET
def library(request: AuthenticatedHttpRequest) -> HttpResponse:
    """
    Everything the user made or uploaded, newest first, narrowed by source,
    model and words of the prompt. A page costs a bounded number of queries
    whatever the library holds: the page, its count, the models, and one
    per source for the links to where each image came from.
    """
    mine = StoredFile.objects.for_user(request.user).images()
    chosen = {key: request.GET.get(key, "").strip() for key in ("source", "model", "q")}
    shown = mine
    if chosen["source"] in StoredFile.Source.values:
        shown = shown.filter(source=chosen["source"])
    if chosen["model"]:
        shown = shown.filter(model=chosen["model"])
    if chosen["q"]:
        shown = shown.filter(prompt__icontains=chosen["q"])
    page = Paginator(shown.only(*LIBRARY_FIELDS), LIBRARY_PAGE).get_page(request.GET.get("page"))
    files = list(page.object_list)
    origins = sources.origins(files)
    context = {
        "page": page,
        "items": [Tile.of(stored, origins.get(stored.pk)) for stored in files],
        "chosen": chosen,
        "sources": StoredFile.Source.choices,
        "models": list(mine.exclude(model="").order_by("model").values_list("model", flat=True).distinct()),
    }
    return render(request, "files/library.html", context)


@require_POST
def delete(request: HttpRequest, pk: Any) -> HttpResponse:
    # Like serving: a visitor gets a stranger's 404, not a login page.
    if not request.user.is_authenticated:
        raise Http404
    stored = get_object_or_404(StoredFile.objects.for_user(request.user), pk=pk)
    with transaction.atomic():
        sources.forget(stored)
        stored.delete_with_blobs()
    if wants_json(request):
        return JsonResponse({"deleted": str(pk)})
    flash.success(request, _("The image was deleted."))
    # Back to the library as it was: its filters and its page.
    back = request.POST.get("next", "")
    if back.startswith(reverse("files:library")) and url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        return redirect(back)
    return redirect("files:library")
