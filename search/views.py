"""Thin views: the search page, and opening a result where it was said."""

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from chat.models import Conversation

from . import embedding, engine
from .forms import SearchForm
from .models import Passage

# What the sidebar shows as the person types: the best few, by words (no paid call a keystroke).
SUGGESTED = 6


def _models_of(user: User) -> list[str]:
    return list(
        Conversation.objects.filter(owner=user)
        .exclude(model="")
        .order_by("model")
        .values_list("model", flat=True)
        .distinct()
    )


@login_required
@require_GET
def search_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    context: dict[str, Any] = {"form": form, "modes": engine.MODES, "models": _models_of(request.user)}
    if not form.is_valid():
        context["results"] = engine.Results("", "all")
        return render(request, "search/page.html", context, status=400)
    data = form.cleaned_data
    filters = form.filters()
    results = engine.search(request.user, data["q"], data["mode"] or "all", filters=filters, page=data["page"] or 1)
    embedded, total = embedding.progress(request.user, results.space) if results.query else (0, 0)
    context.update(results=results, embedded=embedded, total=total, filters=filters)
    if results.query:
        context["next_url"] = _page_url(request, results.page + 1) if results.has_more else ""
        context["previous_url"] = _page_url(request, results.page - 1) if results.page > 1 else ""
    return render(request, "search/page.html", context)


def _page_url(request: AuthenticatedHttpRequest, page: int) -> str:
    query = request.GET.copy()
    query["page"] = str(page)
    return f"{reverse('search:page')}?{query.urlencode()}"


@login_required
@require_GET
def suggest(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The sidebar's search as you type: the first few results by words, as JSON."""
    form = SearchForm({"q": request.GET.get("q", "")})
    if not form.is_valid():
        return JsonResponse({"error": form.errors.get_json_data()}, status=400)
    results = engine.search(request.user, form.cleaned_data["q"], "words", per_page=SUGGESTED)
    return JsonResponse(
        {
            "query": results.query,
            "results": [
                {
                    "title": r.passage.conversation.display_title,
                    "snippet": str(r.snippet),
                    "url": r.url,
                    "kind": r.passage.kind,
                }
                for r in results.items
            ],
            "more": results.has_more,
            "page": f"{reverse('search:page')}?{urlencode({'q': results.query})}",
        }
    )


@login_required
@require_GET
def open_result(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    passage = get_object_or_404(Passage.objects.for_user(request.user).select_related("conversation", "message"), pk=pk)
    return redirect(engine.location(passage))
