"""
Audio checked by its content, never by its name: the container is read from
the file's first bytes (a text file renamed ``.mp3`` is refused), and its
length from the sound its bytes hold (``files.containers``: a header's claim
is capped by what is there), never from what the browser says. What is kept
and sent is the sound without its tags.

WebM (what browsers' MediaRecorder makes) carries no length in its header
while it is recorded; for it ``duration`` is None, and the caller takes the
length the API counted (``verbose_json``'s ``duration``).
"""

import struct
from dataclasses import dataclass

from django.utils.translation import gettext as _
from mutagen import MutagenError  # type: ignore[attr-defined]

from . import containers


@dataclass(frozen=True)
class AudioFormat:
    extension: str
    content_type: str
    label: str


FORMATS = {
    "flac": AudioFormat("flac", "audio/flac", "FLAC"),
    "mp3": AudioFormat("mp3", "audio/mpeg", "MP3"),
    "mp4": AudioFormat("mp4", "audio/mp4", "MP4"),
    "m4a": AudioFormat("m4a", "audio/mp4", "M4A"),
    "ogg": AudioFormat("ogg", "audio/ogg", "Ogg"),
    "wav": AudioFormat("wav", "audio/wav", "WAV"),
    "webm": AudioFormat("webm", "audio/webm", "WebM"),
}
ACCEPTED = ", ".join(f.label for f in FORMATS.values())


class BadAudio(ValueError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class CheckedAudio:
    data: bytes
    format: AudioFormat
    # Seconds of sound the bytes hold; None when the container does not say (WebM).
    duration: float | None

    def filename(self, stem: str = "audio") -> str:
        """A name whose extension matches the bytes: servers refuse WebM called .mp3."""
        return f"{stem}.{self.format.extension}"


def sniff(data: bytes) -> AudioFormat | None:
    head = data[:64]
    if head.startswith(b"fLaC"):
        return FORMATS["flac"]
    if head.startswith(b"OggS"):
        return FORMATS["ogg"]
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return FORMATS["wav"]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FORMATS["webm"]
    if head[4:8] == b"ftyp":
        return FORMATS["m4a"] if head[8:12] in (b"M4A ", b"M4B ") else FORMATS["mp4"]
    if head.startswith(b"ID3"):
        return FORMATS["mp3"]
    # An MPEG audio frame: eleven sync bits, and a layer (ADTS AAC has layer 0).
    if len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0x3:
        return FORMATS["mp3"]
    return None


def check(data: bytes, name: str, *, max_bytes: int) -> CheckedAudio:
    """The recording, its real format and its length; raises BadAudio with a reason fit for the person."""
    if not data:
        raise BadAudio(name, _("the file is empty."))
    if len(data) > max_bytes:
        raise BadAudio(
            name,
            _("it is %(size).1f MB; at most %(limit)d MB is accepted.")
            % {"size": len(data) / 1024 / 1024, "limit": max_bytes // 1024 // 1024},
        )
    found = sniff(data)
    if found is None:
        raise BadAudio(name, _("it is not an audio file this site can read (%(formats)s).") % {"formats": ACCEPTED})
    if found.extension == "webm":
        return CheckedAudio(data, found, None)
    try:
        length, sound = containers.measure(data, found.extension)
    except (containers.Unreadable, MutagenError, struct.error, IndexError):
        length, sound = 0.0, b""
    if length <= 0:
        raise BadAudio(name, _("the %(format)s file is damaged or cut short.") % {"format": found.label})
    return CheckedAudio(sound, found, length)
