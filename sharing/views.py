"""Thin views: making a link, the owner's list, the public page, and continuing from it."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from chat.models import Conversation

from . import snapshots
from .forms import ShareForm
from .models import ShareLink


@login_required
@require_http_methods(["GET", "POST"])
def share(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)
    form = ShareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        link = snapshots.share(conversation, **form.cleaned_data)
        flash.success(request, _("Link made. Copy it from the list below; it shows the conversation as it is now."))
        return redirect(f"{reverse('sharing:links')}#link-{link.pk}")
    context = {"conversation": conversation, "form": form, "shared": conversation.share_links.open().count()}
    return render(request, "sharing/share.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def links(request: AuthenticatedHttpRequest) -> HttpResponse:
    mine = ShareLink.objects.for_user(request.user).select_related("conversation")
    return render(request, "sharing/links.html", {"links": mine})


@login_required
@require_POST
def revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(ShareLink.objects.for_user(request.user), pk=pk).revoke()
    flash.success(request, _("The link no longer opens anything."))
    return redirect("sharing:links")


def _open_link(token: str) -> ShareLink:
    # Revoked, expired or never made: the same 404, with no hint that it existed.
    link = ShareLink.objects.open().filter(token=token).first()
    if link is None:
        raise Http404
    return link


@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    link = _open_link(token)
    if link.audience == ShareLink.Audience.SIGNED_IN and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    link.count_view()
    response = render(request, "sharing/shared.html", {"link": link})
    # Not for search engines, not kept by shared caches (a revoked link must stop showing),
    # and the unguessable address never leaves in a Referer.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def continue_chat(request: AuthenticatedHttpRequest, token: str) -> HttpResponse:
    link = _open_link(token)
    if request.method == "POST":
        conversation = snapshots.continue_as(link, request.user)
        flash.success(request, _("This is your own copy: go on from here."))
        return redirect(conversation)
    return render(request, "sharing/continue.html", {"link": link})
