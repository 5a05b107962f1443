"""Voice's pages and calls: thin views over ``audio.reading`` and ``audio.transcripts``."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from aitre import catalog
from aitre.capabilities import Capability
from chat.models import Message
from jobs import following
from lib import http
from lib.http import error_json, errors_of, wants_json
from lib.refusals import Refusal
from usage import quotas

from . import reading, subtitles, transcripts, voices
from .forms import DictationForm, TranscriptionForm, VoicePreferenceForm
from .models import Narration, Transcription

# The audio page lists this many of the latest files; older ones page on.
HISTORY_SHOWN = 50


# --- Read aloud -------------------------------------------------------------------


def _pieces(narration: Narration) -> list[dict[str, object]]:
    made = reading.made_pieces(narration)
    return [
        {
            "url": made[index].get_absolute_url() if index in made else "",
            "make": reverse("audio:piece", args=[narration.pk, index]),
        }
        for index in range(len(narration.pieces))
    ]


@login_required
@require_POST
def read_aloud(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """The reading of a reply: its pieces, each with the kept audio's address or the address that makes it."""
    message = get_object_or_404(Message.objects.for_user(request.user), pk=pk)
    try:
        narration = reading.narration_for(request.user, message)
    except reading.CannotRead as exc:
        return error_json(exc)
    return JsonResponse({"id": narration.pk, "voice": narration.voice, "pieces": _pieces(narration)})


@login_required
@require_POST
def piece(request: AuthenticatedHttpRequest, pk: int, index: int) -> JsonResponse:
    narration = get_object_or_404(Narration.objects.filter(owner=request.user), pk=pk)
    try:
        stored = reading.piece(request.user, narration, index)
    except Refusal as refusal:  # the quota, or why this piece cannot be read
        return error_json(refusal)
    return JsonResponse({"url": stored.get_absolute_url()})


# --- Dictation --------------------------------------------------------------------


@login_required
@require_POST
def dictate(request: AuthenticatedHttpRequest) -> JsonResponse:
    form = DictationForm(request.POST, request.FILES)
    if not form.is_valid():
        return error_json(Refusal(errors_of(form)))
    upload = form.cleaned_data["audio"]
    try:
        dictation = transcripts.dictate(request.user, upload.read(), upload.name or "dictation")
    except Refusal as refusal:  # the quota, or why this recording cannot be transcribed
        return error_json(refusal)
    return JsonResponse({"text": dictation.text, "send": dictation.auto_send})


# --- Settings ---------------------------------------------------------------------


@login_required
@require_POST
def update_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    offer = catalog.offer(request.user, Capability.SPEECH)
    form = VoicePreferenceForm(
        request.POST, instance=voices.preference_of(request.user), speech_models=offer.choices, site=voices.defaults()
    )
    if not form.is_valid():
        return render(request, "audio/settings_refused.html", {"form": form}, status=400)
    form.save()
    flash.success(request, _("Your voice settings were saved."))
    return redirect(reverse("chat:account") + "#voice")


# --- Audio files ------------------------------------------------------------------


def _get_transcription(request: AuthenticatedHttpRequest, pk: int) -> Transcription:
    return get_object_or_404(Transcription.objects.for_user(request.user).select_related("audio"), pk=pk)


def _row_html(request: AuthenticatedHttpRequest, transcription: Transcription) -> str:
    return render_to_string("audio/_transcription.html", {"t": transcription}, request)


def _page(request: AuthenticatedHttpRequest, form: TranscriptionForm | None = None, status: int = 200) -> HttpResponse:
    mine = Transcription.objects.for_user(request.user)
    mine.settle_stale()
    voice = voices.for_user(request.user)
    context = {
        "form": form or TranscriptionForm(initial={"language": voice.language}),
        "model": voice.transcription_model,
        "problem": voice.transcription_problem,
        "history": list(mine.select_related("audio")[:HISTORY_SHOWN]),
        "max_mb": voices.defaults().max_audio_mb,
        "quota": quotas.status_for(request.user),
    }
    return render(request, "audio/page.html", context, status=status)


@login_required
@require_GET
def audio_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _page(request)


def _refuse(request: AuthenticatedHttpRequest, refusal: Refusal, form: TranscriptionForm | None = None) -> HttpResponse:
    return http.refuse(request, refusal, lambda status: _page(request, form=form, status=status))


def _started(request: AuthenticatedHttpRequest, transcription: Transcription) -> HttpResponse:
    transcripts.run_in_background(transcription, request.user)
    if wants_json(request):
        return JsonResponse(
            {
                "id": transcription.pk,
                "html": _row_html(request, transcription),
                "follow": reverse("audio:follow", args=[transcription.pk]),
                "url": transcription.get_absolute_url(),
            }
        )
    return redirect(transcription.get_absolute_url())


@login_required
@require_POST
def transcribe(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = TranscriptionForm(request.POST, request.FILES)
    if not form.is_valid():
        return _refuse(request, Refusal(errors_of(form)), form)
    data = form.cleaned_data
    upload = data["file"]
    try:
        transcription = transcripts.start(
            request.user,
            upload.read(),
            upload.name or "audio",
            translate=data["task"] == Transcription.Task.TRANSLATE,
            language=data["language"],
            prompt=data["prompt"],
        )
    except Refusal as refusal:  # the quota, or why this file cannot be transcribed
        return _refuse(request, refusal, form)
    return _started(request, transcription)


@login_required
@require_GET
def transcript(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    transcription = _get_transcription(request, pk)
    Transcription.objects.filter(pk=pk).settle_stale()
    transcription.refresh_from_db()
    return render(request, "audio/transcript.html", {"t": transcription})


@login_required
@require_GET
def download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The text as .txt, or subtitles as .srt or .vtt (``?format=``), made from the kept segments."""
    transcription = _get_transcription(request, pk)
    if transcription.status != Transcription.Status.COMPLETE:
        return HttpResponse(_("This transcription has no text yet."), status=409, content_type="text/plain")
    kind = request.GET.get("format", "txt")
    made = {
        "txt": (transcription.text + "\n", "text/plain"),
        "srt": (
            subtitles.srt(transcription.segments, transcription.text, transcription.duration),
            "application/x-subrip",
        ),
        "vtt": (subtitles.vtt(transcription.segments, transcription.text, transcription.duration), "text/vtt"),
    }
    if kind not in made:
        return HttpResponse(_("Ask for txt, srt or vtt."), status=400, content_type="text/plain")
    body, content_type = made[kind]
    stem = transcription.name.rsplit(".", 1)[0] or "transcript"
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}.{kind}")
    return response


@login_required
@require_POST
def retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    transcription = _get_transcription(request, pk)
    if not transcription.can_retry:
        return _refuse(request, Refusal(_("Only a failed or interrupted transcription can be retried."), status=409))
    try:
        again = transcripts.retry(transcription)
    except Refusal as refusal:
        return _refuse(request, refusal)
    return _started(request, again)


@login_required
@require_POST
def delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    transcription = _get_transcription(request, pk)
    if transcription.is_running:
        return _refuse(request, Refusal(_("Wait for the transcription to finish before deleting it."), status=409))
    audio = transcription.audio
    transcription.delete()
    # Retries share the file: it goes with the last of them.
    if audio is not None and not Transcription.objects.filter(audio=audio).exists():
        audio.delete_with_blobs()
    if wants_json(request):
        return JsonResponse({"deleted": pk})
    flash.success(request, _("The transcription and its audio file were deleted."))
    return redirect("audio:page")


@login_required
@require_GET
def follow(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    """The run's progress as server-sent events, ending with its finished row: a reload re-attaches."""
    transcription = _get_transcription(request, pk)
    return following.response(
        lambda: Transcription.objects.filter(pk=transcription.pk).select_related("audio").first(),
        settle=lambda t: Transcription.objects.filter(pk=t.pk).settle_stale(),
        render=lambda t: _row_html(request, t),
    )
