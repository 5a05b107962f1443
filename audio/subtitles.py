"""A transcript's timed segments as SubRip (.srt) and WebVTT (.vtt) subtitles."""

from collections.abc import Sequence
from typing import Any

# The one cue of a transcript with neither segments nor a length.
UNTIMED_CUE_SECONDS = 7.0


def _stamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def cues(segments: Sequence[dict[str, Any]], text: str, duration: float | None) -> list[tuple[float, float, str]]:
    """
    (start, end, text) for each cue: the API's segments, or, when a server
    sent none, the whole text over the whole length.
    """
    found = [
        (float(s["start"]), float(s["end"]), str(s["text"]).strip()) for s in segments if str(s.get("text", "")).strip()
    ]
    if found:
        return found
    return [(0.0, float(duration or UNTIMED_CUE_SECONDS), text.strip())] if text.strip() else []


def srt(segments: Sequence[dict[str, Any]], text: str, duration: float | None) -> str:
    blocks = [
        f"{number}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{words}\n"
        for number, (start, end, words) in enumerate(cues(segments, text, duration), start=1)
    ]
    return "\n".join(blocks)


def vtt(segments: Sequence[dict[str, Any]], text: str, duration: float | None) -> str:
    blocks = [
        f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n{words}\n"
        for start, end, words in cues(segments, text, duration)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)
