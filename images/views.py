"""The image studio's pages: thin views over ``images.studio``."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from aitre import catalog
from aitre.capabilities import Capability
from files.models import StoredFile
from jobs import following
from lib import http
from lib.http import errors_of, wants_json
from lib.refusals import Refusal
from usage import metering, quotas

from . import studio
from .forms import StudioForm, families_for_page
from .models import Generation

# The studio shows this many of the latest runs; the media library has every image.
RUNS_SHOWN = 30


def _get_generation(request: AuthenticatedHttpRequest, pk: int) -> Generation:
    return get_object_or_404(Generation.objects.for_user(request.user), pk=pk)


def _run_html(request: AuthenticatedHttpRequest, generation: Generation) -> str:
    return render_to_string("images/_generation.html", {"g": generation, "images": list(generation.images())}, request)


def _page(request: AuthenticatedHttpRequest, form: StudioForm | None = None, status: int = 200) -> HttpResponse:
    Generation.objects.for_user(request.user).settle_stale()
    offer = catalog.offer(request.user, Capability.IMAGE_GENERATION)
    runs = list(Generation.objects.for_user(request.user)[:RUNS_SHOWN])
    images_by_run: dict[int, list[StoredFile]] = {}
    for stored in StoredFile.objects.for_user(request.user).filter(
        source=StoredFile.Source.STUDIO, origin_id__in=[run.pk for run in runs]
    ):
        images_by_run.setdefault(stored.origin_id or 0, []).append(stored)
    context = {
        "form": form or StudioForm(choices=offer.choices, initial={"model": offer.default}),
        "offer": offer,
        "runs": [(run, images_by_run.get(run.pk, [])) for run in runs],
        "families": families_for_page(),
        "quota": quotas.status_for(request.user),
    }
    return render(request, "images/studio.html", context, status=status)


@login_required
@require_GET
def studio_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _page(request)


def _refuse(request: AuthenticatedHttpRequest, refusal: Refusal, form: StudioForm | None = None) -> HttpResponse:
    return http.refuse(request, refusal, lambda status: _page(request, form=form, status=status))


def _started(request: AuthenticatedHttpRequest, generation: Generation) -> HttpResponse:
    studio.start_in_background(generation, request.user)
    if wants_json(request):
        return JsonResponse(
            {
                "id": generation.pk,
                "html": _run_html(request, generation),
                "follow": reverse("images:follow", args=[generation.pk]),
            }
        )
    return redirect(generation.get_absolute_url())


@login_required
@require_POST
def generate(request: AuthenticatedHttpRequest) -> HttpResponse:
    offer = catalog.offer(request.user, Capability.IMAGE_GENERATION)
    form = StudioForm(request.POST, choices=offer.choices)
    if not form.is_valid():
        return _refuse(request, Refusal(errors_of(form)), form)
    data = form.cleaned_data
    try:
        generation = studio.start(request.user, data["model"], data["prompt"], data["params"], data["n"])
    except metering.Refused as exc:
        return _refuse(request, exc, form)
    return _started(request, generation)


@login_required
@require_POST
def retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    generation = _get_generation(request, pk)
    if not generation.can_retry:
        return _refuse(request, Refusal(_("Only a failed or interrupted generation can be retried."), status=409))
    try:
        again = studio.retry(generation)
    except metering.Refused as exc:
        return _refuse(request, exc)
    return _started(request, again)


@login_required
@require_POST
def delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    generation = _get_generation(request, pk)
    if generation.is_running:
        return _refuse(request, Refusal(_("Wait for the generation to finish before deleting it."), status=409))
    generation.images().delete_with_blobs()
    generation.delete()
    if wants_json(request):
        return JsonResponse({"deleted": pk})
    return redirect("images:studio")


@login_required
@require_GET
def follow(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    """The run's progress as server-sent events, ending with its finished HTML: a reload re-attaches."""
    generation = _get_generation(request, pk)
    return following.response(
        lambda: Generation.objects.filter(pk=generation.pk).first(),
        settle=lambda g: Generation.objects.filter(pk=g.pk).settle_stale(),
        render=lambda g: _run_html(request, g),
    )
