"""Thin views: a conversation's Markdown and JSON, the account's zip, and importing."""

import io
import json
import zipfile

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from chat.models import Conversation
from files.views import serve_field

from . import archive, documents, importing
from .forms import ImportForm
from .models import Export, Import
from .plans import ImportProblem

EXPORTS_SHOWN = 10
IMPORTS_SHOWN = 10


def _owned(request: AuthenticatedHttpRequest, pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)


def _attachment(body: str, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@login_required
@require_GET
def conversation_markdown(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The Markdown, alone; or, when the conversation shows pictures, a zip of it and the pictures it links to."""
    conversation = _owned(request, pk)
    text = documents.markdown(conversation, user_label=_("You"), assistant_label=_("Assistant"))
    stem = archive.slug(conversation.title, "chat")
    pictures = documents.pictures_on_show(conversation)
    if not pictures:
        return _attachment(text, "text/markdown; charset=utf-8", f"{stem}.md")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(f"{stem}.md", text)
        for picture in pictures:
            try:
                bundle.writestr(documents.file_path(picture), picture.read())
            except FileNotFoundError:
                continue  # lost by storage: named in the text, not in the zip
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}.zip")
    return response


@login_required
@require_GET
def conversation_json(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    conversation = _owned(request, pk)
    body = json.dumps(documents.conversation_document(conversation), ensure_ascii=False, indent=1)
    return _attachment(body, "application/json", f"{archive.slug(conversation.title, 'chat')}.json")


def _page(request: AuthenticatedHttpRequest, form: ImportForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "exports": Export.objects.for_user(request.user)[:EXPORTS_SHOWN],
        "imports": Import.objects.for_user(request.user)[:IMPORTS_SHOWN],
        "export_keep_days": settings.EXPORT_KEEP_DAYS,
    }
    return render(request, "transfer/page.html", context, status=status)


@login_required
@require_GET
def page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _page(request, ImportForm())


@login_required
@require_POST
def start_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    archive.request(request.user)
    flash.success(request, _("Your export is being prepared. Its download link appears here when it is ready."))
    return redirect("transfer:page")


@login_required
@require_GET
def export_status(request: AuthenticatedHttpRequest, pk: str) -> JsonResponse:
    export = get_object_or_404(Export.objects.for_user(request.user), pk=pk)
    return JsonResponse({"status": export.status, "pending": export.is_pending})


@login_required
@require_GET
def download(request: AuthenticatedHttpRequest, pk: str) -> HttpResponseBase:
    export = get_object_or_404(Export.objects.for_user(request.user), pk=pk)
    if export.status != Export.Status.READY or not export.archive:
        raise Http404
    return serve_field(request, export.archive, "application/zip", export.download_name, attachment=True)


@login_required
@require_POST
def delete_export(request: AuthenticatedHttpRequest, pk: str) -> HttpResponse:
    export = get_object_or_404(Export.objects.for_user(request.user), pk=pk)
    if not export.is_pending:
        export.delete_with_archive()
    return redirect("transfer:page")


@login_required
@require_POST
def import_file(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        record = importing.queue(request.user, form.cleaned_data["file"])
    except ImportProblem as problem:
        form.add_error("file", str(problem))
        return _page(request, form, status=400)
    flash.success(
        request,
        _("“%(name)s” is being imported; what came in, and anything left out, appears below.")
        % {"name": record.name or _("The file")},
    )
    return redirect("transfer:page")


@login_required
@require_GET
def import_status(request: AuthenticatedHttpRequest, pk: str) -> JsonResponse:
    record = get_object_or_404(Import.objects.for_user(request.user), pk=pk)
    return JsonResponse(
        {
            "status": record.status,
            "pending": record.is_pending,
            "waiting": record.waits_for_a_worker,
            "written": record.conversations if record.status == Import.Status.IMPORTING else 0,
        }
    )


@login_required
@require_POST
def cancel_import(request: AuthenticatedHttpRequest, pk: str) -> HttpResponse:
    record = get_object_or_404(Import.objects.for_user(request.user), pk=pk)
    if record.cancel():
        flash.success(request, _("The import is cancelled: nothing of it is kept."))
    else:
        flash.error(request, _("The import had already ended."))
    return redirect("transfer:page")
