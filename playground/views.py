"""
Thin views for the completions playground: the page (a new run, or one
reopened), starting a run (its answer is the run's event stream for the
page's script; without JavaScript the whole run, then its page), Stop,
rename and delete. Every run is fetched through one helper that answers 404
to anyone but its owner.
"""

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from aitre import catalog
from aitre.capabilities import Capability
from aitre.client import AitreError
from lib import http, sse
from lib.http import wants_json, wants_stream
from lib.refusals import Refusal
from usage import metering, quotas

from . import completing
from .forms import CompletionForm
from .models import MAX_TITLE, CompletionRun

HISTORY = 50


def _run_for_user(request: AuthenticatedHttpRequest, pk: int) -> CompletionRun:
    return get_object_or_404(CompletionRun.objects.for_user(request.user), pk=pk)


def _page(
    request: AuthenticatedHttpRequest,
    *,
    form: CompletionForm | None = None,
    run: CompletionRun | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    offer = catalog.offer(request.user, Capability.COMPLETIONS)
    mine = CompletionRun.objects.for_user(request.user)
    # A write only when a run died: this page is read far more often than that happens.
    if mine.stale().exists():
        mine.settle_stale()
        if run is not None:
            run.refresh_from_db()
    if form is None:
        initial: dict[str, Any] = {"model": offer.default}
        if run is not None:
            initial = {"model": run.model, "prompt": run.prompt, **run.params}
            initial["stop"] = "\n".join(s.replace("\n", "\\n") for s in run.params.get("stop", []))
        form = CompletionForm(initial=initial, models=offer.choices)
    context = {
        "form": form,
        "run": run,
        "offer": offer,
        "error": error,
        "history": CompletionRun.objects.for_user(request.user).only(
            "pk", "title", "prompt", "model", "status", "created_at"
        )[:HISTORY],
        "quota": quotas.status_for(request.user),
    }
    return render(request, "playground/page.html", context, status=status)


@login_required
@require_GET
def page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_GET
def run_page(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _page(request, run=_run_for_user(request, pk))


def _refuse(request: AuthenticatedHttpRequest, refusal: Refusal, form: CompletionForm) -> HttpResponse:
    """A clear 4xx or 5xx that keeps the prompt: JSON for the script, else the page with the form as sent."""
    return http.refuse(
        request, refusal, lambda status: _page(request, form=form, error=refusal.message, status=status), flash=False
    )


@login_required
@require_POST
def run(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    offer = catalog.offer(request.user, Capability.COMPLETIONS)
    form = CompletionForm(request.POST, models=offer.choices)
    if not form.is_valid():
        return _refuse(request, Refusal(form.errors_text()), form)
    try:
        started = completing.start(request.user, form.payload())
    except metering.Refused as exc:
        return _refuse(request, exc, form)
    if not wants_stream(request):
        completing.run_whole(started)
        if started.status == CompletionRun.Status.ERROR:
            flash.error(request, started.error)
        return redirect(started)
    try:
        stream = completing.open_stream(started)
    except AitreError as exc:
        response = JsonResponse({"error": exc.message, "run": started.pk}, status=429 if exc.status == 429 else 502)
        if exc.retry_after:
            response["Retry-After"] = str(int(exc.retry_after))
        return response
    return sse.response(completing.events(started, stream))


@login_required
@require_POST
def stop(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    found = _run_for_user(request, pk)
    if found.is_running:
        completing.stop(found)
    if wants_json(request):
        return JsonResponse({"stopped": True})
    return redirect(found)


@login_required
@require_POST
def rename(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    found = _run_for_user(request, pk)
    title = " ".join(request.POST.get("title", "").split())
    if "title" not in request.POST or len(title) > MAX_TITLE:
        # An empty or JSON body is not a rename to nothing: nothing changes.
        message = _("A title has at most 200 characters.") if len(title) > MAX_TITLE else _("No title was sent.")
        if wants_json(request):
            return JsonResponse({"error": message}, status=400)
        return _page(request, run=found, error=message, status=400)
    CompletionRun.objects.filter(pk=found.pk).update(title=title)
    found.title = title
    if wants_json(request):
        return JsonResponse({"title": found.display_title})
    return redirect(found)


@login_required
@require_POST
def delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    found = _run_for_user(request, pk)
    if found.is_running:
        completing.stop(found)
    found.delete()
    if wants_json(request):
        return JsonResponse({"deleted": True})
    flash.success(request, _("The run was deleted."))
    return redirect("playground:page")
