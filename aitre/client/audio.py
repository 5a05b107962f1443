"""
The audio endpoints (the API document's §5): text to speech, which answers
with the audio's bytes (or, on some gateways, a JSON error with a 200), and
transcription and translation, which take the recording as a multipart file.

Transcripts are always asked for as ``verbose_json``: one call gives the
text, the spoken language, the duration the server counted, and the timed
segments subtitles are made from, so a ``.txt``, ``.srt`` and ``.vtt`` of
one recording cost one call, not three.
"""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from .base import BaseClient
from .errors import AitreError, redact, upstream_detail

# The speech endpoint takes at most this many characters per call (§5.1).
SPEECH_MAX_CHARS = 4096
# And the transcription endpoints at most this much audio (§5.2, OpenAI's limit).
TRANSCRIPTION_MAX_BYTES = 25 * 1024 * 1024
VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")
SPEED_RANGE = (0.25, 4.0)
# Long recordings take a while to transcribe (§11 suggests 120 s for TTS and transcription; a meeting takes longer).
AUDIO_READ_TIMEOUT = 300.0

_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
}


@dataclass(frozen=True)
class Speech:
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str = ""
    # Seconds of audio as the server counted them; None when it did not say.
    duration: float | None = None
    segments: list[Segment] = field(default_factory=list)


def _segments(items: Any) -> list[Segment]:
    segments = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            start, end = float(item.get("start") or 0), float(item.get("end") or 0)
        except (TypeError, ValueError):
            continue
        text = str(item.get("text") or "").strip()
        if text and end >= start:
            segments.append(Segment(start, end, text))
    return segments


class AudioEndpoints(BaseClient):
    def speech(self, *, model: str, text: str, voice: str, speed: float, response_format: str = "mp3") -> Speech:
        payload = {"model": model, "input": text, "voice": voice, "speed": speed, "response_format": response_format}
        response = self._request(
            "POST", "/v1/audio/speech", json_body=payload, accept="audio/*", read_timeout=AUDIO_READ_TIMEOUT
        )
        with response:
            data = response.content
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type in ("application/json", "text/plain", "text/html") or not data:
            # A gateway's error in a 200 (§5.1): it is read as the error it is, never played.
            detail, code = upstream_detail(data) if data else ("", "")
            detail = redact(detail, self._secrets)
            raise AitreError(
                _("The API answered with an error instead of audio: %(detail)s")
                % {"detail": detail or _("no reason given")},
                status=response.status_code,
                code=code,
                detail=detail,
            )
        return Speech(data, _CONTENT_TYPES.get(response_format, content_type or "application/octet-stream"))

    def transcribe(
        self,
        audio: bytes,
        *,
        filename: str,
        content_type: str,
        model: str,
        language: str = "",
        prompt: str = "",
        translate: bool = False,
    ) -> Transcript:
        """Speech to text in its own language, or (``translate``) to English, which takes no language."""
        form = {"model": model, "response_format": "verbose_json"}
        if language and not translate:
            form["language"] = language
        if prompt:
            form["prompt"] = prompt
        path = "/v1/audio/translations" if translate else "/v1/audio/transcriptions"
        response = self._request(
            "POST", path, form=form, files={"file": (filename, audio, content_type)}, read_timeout=AUDIO_READ_TIMEOUT
        )
        with response:
            body = response.content
            content_type_back = response.headers.get("Content-Type", "")
        if "json" not in content_type_back:
            # A server that ignores verbose_json answers with the plain text.
            return Transcript(body.decode("utf-8", "replace").strip())
        data = self._json(response)
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise AitreError(_("The API sent a transcript the site could not read."))
        duration = data.get("duration")
        return Transcript(
            text=data["text"].strip(),
            language=str(data.get("language") or ""),
            duration=float(duration) if isinstance(duration, int | float | str) and _number(duration) else None,
            segments=_segments(data.get("segments")),
        )


def _number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
