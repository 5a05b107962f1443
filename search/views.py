"""Thin views: the search page, and opening a result where it was said."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest

from . import engine, indexing
from .models import Passage

MAX_QUERY_CHARS = 200


@login_required
@require_GET
def search_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    raw = request.GET.get("q", "")
    if len(raw) > MAX_QUERY_CHARS * 5:
        return render(request, "search/page.html", {"too_long": True, "results": engine.Results("", "all")}, status=400)
    results = engine.search(request.user, raw, request.GET.get("mode", "all"))
    embedded, total = indexing.progress(request.user, results.space) if results.query else (0, 0)
    context = {"results": results, "embedded": embedded, "total": total, "modes": engine.MODES}
    return render(request, "search/page.html", context)


@login_required
@require_GET
def open_result(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    passage = get_object_or_404(Passage.objects.for_user(request.user).select_related("conversation", "message"), pk=pk)
    return redirect(engine.location(passage))
