"""
Audio into text: a dictated message (while the person waits, a few seconds)
and an audio file (in the background: close the tab, come back, it is done).

Both are checked by their content (``files.audio``) and admitted by the
quota before the call; both are priced per minute of audio, the length read
from the file on the server, else as the API counted it; never from the
browser. An audio file runs in the web process that started it
(``jobs.background``) with a heartbeat; one whose process died is settled
as interrupted, with Retry, and is never re-run by itself (it may have been
paid for).
"""

import logging
import time
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from aitre.client import AitreError, Transcript
from aitre.credentials import client_for
from files import audio, store
from files.models import StoredFile
from jobs import background
from jobs.registry import Job, in_process_runs
from lib.refusals import Refusal
from usage import metering
from usage.quotas import InFlight

from . import voices
from .models import Transcription

logger = logging.getLogger(__name__)


class CannotTranscribe(Refusal):
    """Why it cannot be done, for the person; the status is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message, status=status)


def _minutes(seconds: float | None) -> Decimal:
    return (Decimal(str(seconds or 0)) / 60).quantize(Decimal("0.0001"))


def _length(checked: audio.CheckedAudio, transcript: Transcript) -> tuple[float | None, bool]:
    """The audio's seconds (the file's own, else the API's), and whether it had to be estimated."""
    if checked.duration is not None:
        return checked.duration, False
    if transcript.duration is not None:
        return transcript.duration, False
    # Neither says (a WebM recording, a server without verbose_json): about 16 kB a second of Opus.
    return len(checked.data) / 16_000, True


def _worst(model: str, seconds: float | None) -> InFlight:
    """A transcription at the minutes its file holds (a WebM recording's are known only after the call)."""
    return InFlight(model=model, units=_minutes(seconds))


def check(data: bytes, name: str) -> audio.CheckedAudio:
    """Raises CannotTranscribe (400) for anything that is not audio within the limit."""
    try:
        return audio.check(data, name, max_bytes=voices.defaults().max_audio_bytes)
    except audio.BadAudio as exc:
        raise CannotTranscribe(
            _("%(name)s was not accepted: %(reason)s") % {"name": name, "reason": exc.reason}
        ) from exc


def _model(user: User) -> str:
    voice = voices.for_user(user)
    if not voice.transcription_model:
        raise CannotTranscribe(_("No model with transcription is offered on this site."))
    return voice.transcription_model


@dataclass(frozen=True)
class Dictation:
    text: str
    auto_send: bool


def dictate(user: User, data: bytes, name: str) -> Dictation:
    """A recording from the composer, as text for the person to read and send."""
    checked = check(data, name)
    model = _model(user)
    voice = voices.for_user(user)
    with transaction.atomic():
        metering.admit(user, sent=False, call=_worst(model, checked.duration))
    price = metering.price_for(model)
    started = time.monotonic()
    try:
        transcript = client_for(user).transcribe(
            checked.data,
            filename=checked.filename("dictation"),
            content_type=checked.format.content_type,
            model=model,
            language=voice.language,
        )
    except AitreError as exc:
        logger.warning("Dictation failed: %s (%s)", exc.message, exc.detail)
        raise CannotTranscribe(exc.message, 502) from exc
    seconds, estimated = _length(checked, transcript)
    metering.record(
        user,
        kind=metering.Kind.TRANSCRIPTION,
        model=model,
        units=_minutes(seconds),
        estimated=estimated,
        duration_ms=int((time.monotonic() - started) * 1000),
        price=price,
    )
    return Dictation(transcript.text, voice.auto_send)


def start(user: User, data: bytes, name: str, *, translate: bool, language: str, prompt: str) -> Transcription:
    """An audio file checked, kept and admitted, recorded as running; ``run_in_background`` does the call."""
    checked = check(data, name)
    model = _model(user)
    stored = store.keep_audio(user.pk, checked, name, StoredFile.Source.UPLOAD, model=model, prompt=prompt)
    try:
        with transaction.atomic():
            metering.admit(user, call=_worst(model, checked.duration))
            return Transcription.objects.create(
                owner=user,
                audio=stored,
                name=name[:255],
                task=Transcription.Task.TRANSLATE if translate else Transcription.Task.TRANSCRIBE,
                model=model,
                language="" if translate else language,
                prompt=prompt,
                duration=checked.duration,
            )
    except Exception:
        stored.delete_with_blobs()
        raise


def retry(transcription: Transcription) -> Transcription:
    """
    The same file and choices, as a new run that takes the failed one's place:
    the history and the job centre show the file once, not once a try. (A
    failed run recorded no usage, so nothing refers to it.)
    """
    if transcription.audio is None:
        raise CannotTranscribe(_("The audio file of this transcription is gone."), 409)
    with transaction.atomic():
        metering.admit(transcription.owner, call=_worst(transcription.model, transcription.duration))
        Transcription.objects.filter(pk=transcription.pk).delete()
        return Transcription.objects.create(
            owner=transcription.owner,
            audio=transcription.audio,
            name=transcription.name,
            task=transcription.task,
            model=transcription.model,
            language=transcription.language,
            prompt=transcription.prompt,
            duration=transcription.duration,
        )


def run_in_background(transcription: Transcription, user: User) -> None:
    background.start(f"transcription-{transcription.pk}", lambda: run(transcription, user))


def run(transcription: Transcription, user: User) -> Transcription:
    """Call the API, write the text and its usage together. Never raises for the API's failures."""
    with transcription.beating():
        return _call(transcription, user)


def _call(transcription: Transcription, user: User) -> Transcription:
    started = time.monotonic()
    translate = transcription.task == Transcription.Task.TRANSLATE
    try:
        if transcription.audio is None:
            raise CannotTranscribe(_("The audio file of this transcription is gone."))
        checked = audio.check(transcription.audio.read(), transcription.name, max_bytes=2**31)
        price = metering.price_for(transcription.model)
        transcript = client_for(user).transcribe(
            checked.data,
            filename=checked.filename("audio"),
            content_type=checked.format.content_type,
            model=transcription.model,
            language=transcription.language,
            prompt=transcription.prompt,
            translate=translate,
        )
    except (AitreError, CannotTranscribe) as exc:
        logger.warning("Transcription %s failed: %s", transcription.pk, exc.message)
        # A failed call is not billed: nothing is recorded.
        transcription.finish(status=Transcription.Status.ERROR, error=exc.message, duration_ms=_ms(started))
        return transcription
    except Exception:
        logger.exception("Transcription %s failed unexpectedly", transcription.pk)
        transcription.finish(
            status=Transcription.Status.ERROR, error=_("Something went wrong on the server with this transcription.")
        )
        return transcription
    seconds, estimated = _length(checked, transcript)
    with transaction.atomic():
        record = metering.record(
            user,
            kind=metering.Kind.TRANSLATION if translate else metering.Kind.TRANSCRIPTION,
            model=transcription.model,
            subject=transcription,
            units=_minutes(seconds),
            estimated=estimated,
            duration_ms=_ms(started),
            price=price,
        )
        transcription.finish(
            status=Transcription.Status.COMPLETE,
            text=transcript.text,
            segments=[asdict(segment) for segment in transcript.segments],
            detected_language=transcript.language,
            duration=seconds,
            cost=record.cost,
            duration_ms=_ms(started),
        )
    return transcription


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def in_flight(user_id: int) -> list[InFlight]:
    """Running transcriptions at the minutes their files last (registered in AudioConfig.ready)."""
    running = [t for t in Transcription.objects.filter(owner_id=user_id).running() if not t.is_stale]
    return [_worst(t.model, t.duration) for t in running]


def recent_jobs(user: User, limit: int) -> list[Job]:
    """The owner's latest audio files for the job centre (registered in AudioConfig.ready)."""
    return in_process_runs(
        Transcription.objects.for_user(user),
        limit,
        prefix="audio",
        kind=str(_("Audio")),
        title=lambda t: f"{t.get_task_display()}: {t.name}",
    )
