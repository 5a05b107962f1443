"""The Midjourney pages: thin views over submitting, polling and splitting grids."""

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from aitre import catalog
from aitre.capabilities import Capability
from aitre.client import AitreError
from aitre.credentials import client_for
from files.models import StoredFile
from jobs import following
from lib import http
from lib.http import errors_of, wants_json
from lib.refusals import Refusal
from usage import metering, quotas

from . import actions, grids, polling, submitting
from . import forms as forms_module
from .forms import (
    BlendForm,
    DescribeForm,
    HistoryFilter,
    ImagesRefused,
    ImagineForm,
    ModalForm,
    ShortenForm,
    collect_images,
)
from .models import MidjourneyTask

# The page shows this many of the latest tasks; the media library has every picture.
TASKS_SHOWN = 30
# Pictures offered from the media library as references.
LIBRARY_SHOWN = 24
Action = MidjourneyTask.Action
# A callback brings the next fetch forward unless it is this close anyway.
HOOK_MIN_SECONDS = 1.0


def _tasks_of(request: AuthenticatedHttpRequest) -> Any:
    return MidjourneyTask.objects.for_user(request.user).select_related("image", "preview", "parent")


def _get_task(request: AuthenticatedHttpRequest, pk: int) -> MidjourneyTask:
    task: MidjourneyTask = get_object_or_404(_tasks_of(request), pk=pk)
    return task


def _card(request: AuthenticatedHttpRequest, task: MidjourneyTask) -> str:
    return render_to_string("midjourney/_task.html", {"t": task, "parts": list(task.parts())}, request)


def _page(request: AuthenticatedHttpRequest, status: int = 200, **forms: Any) -> HttpResponse:
    submitting.settle_lost(MidjourneyTask.objects.for_user(request.user))
    history = HistoryFilter(request.GET, auto_id="history-%s")
    page = Paginator(history.apply(_tasks_of(request)), TASKS_SHOWN).get_page(request.GET.get("page"))
    tasks = list(page.object_list)
    parts: dict[int, list[StoredFile]] = {}
    for stored in StoredFile.objects.for_user(request.user).filter(
        source=StoredFile.Source.MIDJOURNEY, origin_id__in=[t.pk for t in tasks]
    ):
        parts.setdefault(stored.origin_id or 0, []).append(stored)
    shown = [(t, [p for p in parts.get(t.pk, []) if p.pk not in (t.image_id, t.preview_id)]) for t in tasks]
    context = {
        "offer": catalog.offer(request.user, Capability.MIDJOURNEY),
        "imagine": forms.get("imagine") or ImagineForm(),
        "blend": forms.get("blend") or BlendForm(),
        "describe": forms.get("describe") or DescribeForm(),
        "shorten": forms.get("shorten") or ShortenForm(),
        "tasks": shown,
        "history": history,
        "page": page,
        "library": list(StoredFile.objects.for_user(request.user).images().order_by("-created_at")[:LIBRARY_SHOWN]),
        "quota": quotas.status_for(request.user),
        "open": forms.get("open", "imagine"),
    }
    return render(request, "midjourney/page.html", context, status=status)


@login_required
@require_GET
def page(request: AuthenticatedHttpRequest) -> HttpResponse:
    # "Edit the prompt" of a refused task brings its prompt back into the form.
    prompt = request.GET.get("prompt", "")[: forms_module.MAX_PROMPT]
    return _page(request, open=request.GET.get("tab", "imagine"), imagine=ImagineForm(initial={"prompt": prompt}))


def _refuse(request: AuthenticatedHttpRequest, refusal: Refusal, **forms: Any) -> HttpResponse:
    return http.refuse(request, refusal, lambda status: _page(request, status=status, **forms))


def _submitted(request: AuthenticatedHttpRequest, task: MidjourneyTask) -> HttpResponse:
    """The new task's card; a submit the gateway refused is a 422 with its reason (nothing was charged)."""
    refused = task.status == MidjourneyTask.Status.FAILURE and task.charge_id is None
    if wants_json(request):
        data: dict[str, Any] = {
            "id": task.pk,
            "html": _card(request, task),
            "follow": reverse("midjourney:follow", args=[task.pk]),
        }
        if refused:
            data["error"] = task.error
        return JsonResponse(data, status=422 if refused else 200)
    if refused:
        flash.error(request, task.error)
    return redirect(task.get_absolute_url())


def _start(request: AuthenticatedHttpRequest, action: str, **fields: Any) -> HttpResponse:
    offer = catalog.offer(request.user, Capability.MIDJOURNEY)
    if not offer.choices:
        return _refuse(request, Refusal(offer.problem, status=409))
    try:
        task = submitting.start(request.user, action, **fields)
    except metering.Refused as exc:
        return _refuse(request, exc)
    return _submitted(request, task)


def _checked(
    request: AuthenticatedHttpRequest, form: Any, tab: str, images: tuple[int, int] = (0, 0)
) -> tuple[dict[str, Any], list[StoredFile]] | HttpResponse:
    """
    The form's data and its images (from ``images[0]`` to ``images[1]`` of
    them, uploaded or from the library), or the 400 that says what is wrong,
    with the page's form kept as it was sent.
    """
    shown = {tab: form, "open": tab}
    if not form.is_valid():
        return _refuse(request, Refusal(errors_of(form)), **shown)
    least, most = images
    try:
        chosen = (
            collect_images(
                request.user, request.FILES.getlist("images"), request.POST.getlist("library"), least=least, most=most
            )
            if most
            else []
        )
    except ImagesRefused as exc:
        return _refuse(request, exc, **shown)
    return form.cleaned_data, chosen


@login_required
@require_POST
def imagine(request: AuthenticatedHttpRequest) -> HttpResponse:
    checked = _checked(request, ImagineForm(request.POST), "imagine", images=(0, 5))
    if isinstance(checked, HttpResponse):
        return checked
    data, references = checked
    return _start(request, Action.IMAGINE, prompt=data["full_prompt"], bot_type=data["bot_type"], inputs=references)


@login_required
@require_POST
def blend(request: AuthenticatedHttpRequest) -> HttpResponse:
    checked = _checked(request, BlendForm(request.POST), "blend", images=(2, 5))
    if isinstance(checked, HttpResponse):
        return checked
    data, images = checked
    return _start(
        request, Action.BLEND, bot_type=data["bot_type"], inputs=images, params={"dimensions": data["dimensions"]}
    )


@login_required
@require_POST
def describe(request: AuthenticatedHttpRequest) -> HttpResponse:
    checked = _checked(request, DescribeForm(request.POST), "describe", images=(1, 1))
    if isinstance(checked, HttpResponse):
        return checked
    data, images = checked
    return _start(request, Action.DESCRIBE, bot_type=data["bot_type"], inputs=images)


@login_required
@require_POST
def shorten(request: AuthenticatedHttpRequest) -> HttpResponse:
    checked = _checked(request, ShortenForm(request.POST), "shorten")
    if isinstance(checked, HttpResponse):
        return checked
    data, _images = checked
    return _start(request, Action.SHORTEN, prompt=data["prompt"], bot_type=data["bot_type"])


@login_required
@require_GET
def task_page(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _get_task(request, pk)
    submitting.settle_lost(MidjourneyTask.objects.filter(pk=task.pk))
    task.refresh_from_db()
    custom_id = str(task.custom_id or "")
    context = {
        "t": task,
        "parts": list(task.parts()),
        "lineage": task.lineage(),
        "children": list(task.children.order_by("created_at")),
        "modal": ModalForm(initial={"prompt": _modal_prompt(task)}) if task.waits_for_modal else None,
        "needs_mask": actions.needs_mask(custom_id),
        "source_image": task.parent.image if task.parent is not None else None,
    }
    return render(request, "midjourney/task.html", context)


def _modal_prompt(task: MidjourneyTask) -> str:
    prompt = task.prompt or (task.parent.prompt if task.parent else "")
    if "customzoom" in task.custom_id.lower() and "--zoom" not in prompt:
        prompt = f"{prompt} --zoom 2".strip()
    return prompt


@login_required
@require_POST
def press(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    parent = _get_task(request, pk)
    custom_id = request.POST.get("custom_id", "")
    if not parent.succeeded or not any(b.get("customId") == custom_id for b in parent.buttons):
        return _refuse(request, Refusal(_("This task has no such button.")))
    try:
        task = submitting.press(parent, custom_id)
    except metering.Refused as exc:
        return _refuse(request, exc)
    if task.waits_for_modal and not wants_json(request):
        return redirect(task.get_absolute_url())
    return _submitted(request, task)


@login_required
@require_POST
def modal(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _get_task(request, pk)
    if not task.waits_for_modal:
        return _refuse(request, Refusal(_("This task is not waiting for input."), status=409))
    form = ModalForm(request.POST, needs_mask=actions.needs_mask(task.custom_id))
    if not form.is_valid():
        return _refuse(request, Refusal(errors_of(form)))
    try:
        task = submitting.submit_modal(task, form.cleaned_data["prompt"], form.cleaned_data["mask"])
    except metering.Refused as exc:
        return _refuse(request, exc)
    if task.waits_for_modal and task.error:
        return _refuse(request, Refusal(task.error, status=422))
    return _submitted(request, task)


@login_required
@require_POST
def retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _get_task(request, pk)
    if task.prompt_refused:
        return _refuse(
            request, Refusal(_("Midjourney refused this prompt: edit it rather than send it again."), status=409)
        )
    if not task.can_retry:
        return _refuse(request, Refusal(_("Only a failed, cancelled or unknown task can be retried."), status=409))
    if task.custom_id and (task.parent is None or not task.parent.succeeded):
        return _refuse(request, Refusal(_("The picture this button belonged to is gone."), status=409))
    try:
        again = submitting.retry(task)
    except metering.Refused as exc:
        return _refuse(request, exc)
    return _submitted(request, again)


@login_required
@require_POST
def delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _get_task(request, pk)
    if task.is_running:
        return _refuse(request, Refusal(_("Wait for the task to finish before deleting it."), status=409))
    StoredFile.objects.filter(
        owner_id=task.owner_id, source=StoredFile.Source.MIDJOURNEY, origin_id=task.pk
    ).delete_with_blobs()
    task.delete()
    if wants_json(request):
        return JsonResponse({"deleted": pk})
    return redirect("midjourney:page")


@login_required
@require_POST
def split(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task = _get_task(request, pk)
    if not task.is_grid:
        return _refuse(request, Refusal(_("Only a finished grid of four pictures can be split."), status=409))
    grids.split(task)
    if wants_json(request):
        return JsonResponse({"id": task.pk, "html": _card(request, task)})
    return redirect(task.get_absolute_url())


def _progress(task: MidjourneyTask) -> dict[str, Any]:
    return {
        "status": task.status,
        "label": task.get_status_display(),
        "progress": task.progress,
        "queue": task.queue_position,
        "preview": task.preview.get_absolute_url() if task.preview_id and task.preview else "",
        "stalled": task.is_stalled,
    }


@login_required
@require_GET
def follow(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    """Progress as server-sent events, ending with the task's finished card: a reload re-attaches."""
    task = _get_task(request, pk)
    return following.response(
        lambda: MidjourneyTask.objects.select_related("preview", "image", "parent").filter(pk=task.pk).first(),
        settle=lambda t: submitting.settle_lost(MidjourneyTask.objects.filter(pk=t.pk)),
        render=lambda t: _card(request, t),
        progress=_progress,
    )


@login_required
@require_GET
def lookup(request: AuthenticatedHttpRequest) -> HttpResponse:
    """
    Any task id of the user's (the admin: of anyone's), shown from the
    database, refreshed from the gateway first when it has not ended. An
    admin may also look up an id the site never stored, straight from the
    gateway: the key is the site's, so every task is theirs to see.
    """
    task_id = request.GET.get("id", "").strip()
    if not task_id:
        return redirect(reverse("midjourney:page") + "?tab=fetch")
    if not task_id.isdigit() or len(task_id) > 40:
        return _refuse(request, Refusal(_("A task id is a number.")), open="fetch")
    tasks = MidjourneyTask.objects.all() if request.user.is_staff else MidjourneyTask.objects.for_user(request.user)
    task = tasks.filter(upstream_id=task_id).order_by("-created_at").first()
    if task is not None:
        if task.status in MidjourneyTask.FOLLOWED:
            polling.refresh(task.pk)
        if task.owner_id == request.user.pk:
            return redirect(task.get_absolute_url())
        task.refresh_from_db()
        return render(request, "midjourney/lookup.html", {"t": task, "foreign": True})
    if not request.user.is_staff:
        return _refuse(request, Refusal(_("None of your tasks has this id."), status=404), open="fetch")
    try:
        fetched = client_for(request.user).mj_fetch(task_id)
    except AitreError as exc:
        return _refuse(request, Refusal(exc.message, status=502), open="fetch")
    if fetched is None:
        return _refuse(
            request, Refusal(_("The gateway does not know this task: not found, or expired."), status=404), open="fetch"
        )
    return render(request, "midjourney/lookup.html", {"fetched": fetched})


@csrf_exempt
@require_POST
def hook(request: HttpRequest, token: str) -> HttpResponse:
    """
    The gateway's callback for one task (the ``notifyHook`` its submit carried).
    Unsigned, so only a hint: the task is fetched again, and that is what is
    believed; the body is never read.
    """
    task = MidjourneyTask.objects.filter(notify_token=token).only("pk").first()
    if task is None:
        raise Http404
    polling.bring_forward(task.pk, unless_due_within=HOOK_MIN_SECONDS)
    return HttpResponse(status=204)
