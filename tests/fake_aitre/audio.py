"""
The audio endpoints as the API document's §5 describes them.

- ``POST /v1/audio/speech``: real audio of the asked format (MP3 made of
  silent MPEG frames, WAV of a tone), as long as the text would take to say;
  a JSON error where audio was expected with the ``json-200`` scenario.
- ``POST /v1/audio/transcriptions`` and ``/translations`` (multipart): the
  file checked by its content against its name (WebM called .mp3 is
  refused, as real servers do), and ``state.transcript`` answered as json,
  text, srt, vtt or verbose_json (with the length read from the file).

Scenarios (``server.script(...)``): ``429``, ``500``, ``json-200``, ``slow``
(each call waits ``state.audio_delay`` seconds).
"""

import email.parser
import io
import math
import re
import struct
import time
import wave
from typing import TYPE_CHECKING, Any

from .chat import scenario_of
from .state import Recorded

if TYPE_CHECKING:
    from .server import Handler

VOICES = {"alloy", "echo", "fable", "onyx", "nova", "shimmer"}
# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no CRC: 417 bytes and 1,152 samples a frame.
_MP3_HEADER = bytes([0xFF, 0xFB, 0x90, 0x64])
_MP3_FRAME = _MP3_HEADER + bytes(417 - 4)
CHARS_PER_SECOND = 15


def mp3(seconds: float) -> bytes:
    frames = max(1, math.ceil(seconds * 44100 / 1152))
    return _MP3_FRAME * frames


def wav(seconds: float, tone: float = 440.0, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        samples = int(seconds * rate)
        w.writeframes(
            b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * tone * i / rate))) for i in range(samples))
        )
    return out.getvalue()


def _errors(handler: "Handler", scenario: str) -> bool:
    if scenario == "429":
        handler._error(429, "Rate limit reached for requests.", "rate_limit_exceeded", {"Retry-After": "20"})
    elif scenario == "500":
        handler._error(500, "The server had an error while processing your request.", "server_error")
    else:
        return False
    return True


def speech(handler: "Handler", body: dict[str, Any], record: Recorded) -> None:
    scenario = scenario_of(handler, body)
    if _errors(handler, scenario):
        return
    state = handler.server.state
    if scenario == "slow" or state.audio_delay:
        time.sleep(state.audio_delay)
    text, model, voice = body.get("input"), str(body.get("model") or ""), body.get("voice")
    if "tts" not in model:
        handler._error(400, f"Model {model} does not support speech.", "model_not_supported")
        return
    if not isinstance(text, str) or not text.strip() or len(text) > 4096:
        handler._error(400, "input must be between 1 and 4096 characters", "invalid_request_error")
        return
    if voice not in VOICES:
        handler._error(400, f"Invalid voice '{voice}'.", "invalid_request_error")
        return
    if scenario == "json-200":
        handler._send_json(200, {"error": {"message": "当前分组上游负载已饱和，请稍后再试", "type": "new_api_error"}})
        return
    speed = float(body.get("speed") or 1.0)
    seconds = len(text) / CHARS_PER_SECOND / speed
    fmt = body.get("response_format", "mp3")
    if fmt == "mp3":
        data, content_type = mp3(seconds), "audio/mpeg"
    elif fmt == "wav":
        data, content_type = wav(min(seconds, 30)), "audio/wav"
    else:
        handler._error(400, f"The fake server makes mp3 and wav, not {fmt}.", "invalid_request_error")
        return
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _form(handler: "Handler", raw: bytes) -> tuple[dict[str, str], tuple[str, str, bytes] | None]:
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + handler.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + raw
    )
    fields: dict[str, str] = {}
    upload = None
    for part in message.get_payload() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if filename:
            upload = (str(filename), part.get_content_type(), payload)
        elif name:
            fields[str(name)] = payload.decode()
    return fields, upload


def _kind(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    if data[4:8] == b"ftyp":
        return "m4a"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return ""


def _seconds(data: bytes, kind: str) -> float:
    if kind == "wav":
        with wave.open(io.BytesIO(data)) as w:
            return w.getnframes() / w.getframerate()
    if kind == "mp3":
        return len(data) / 417 * 1152 / 44100
    return round(len(data) / 16000, 2)  # Opus in WebM or Ogg: about 16 kB a second


def _stamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{separator}{ms % 1000:03d}"


def transcriptions(handler: "Handler", raw: bytes, record: Recorded, translate: bool = False) -> None:
    fields, upload = _form(handler, raw)
    record.body = {**fields, "file": (upload[0], upload[1], len(upload[2])) if upload else None}
    scenario = scenario_of(handler, fields)
    if _errors(handler, scenario):
        return
    state = handler.server.state
    if scenario == "slow" or state.audio_delay:
        time.sleep(state.audio_delay)
    if upload is None:
        handler._error(400, "Missing file.", "invalid_request_error")
        return
    if "whisper" not in fields.get("model", "") and "transcribe" not in fields.get("model", ""):
        handler._error(400, f"Model {fields.get('model')} does not support transcription.", "model_not_supported")
        return
    filename, _type, data = upload
    kind = _kind(data)
    extension = filename.rsplit(".", 1)[-1].lower()
    if not kind or {"m4a": "mp4"}.get(extension, extension) != {"m4a": "mp4"}.get(kind, kind):
        handler._error(
            400,
            "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', "
            "'wav', 'webm']",
            "invalid_request_error",
        )
        return
    text = state.translation if translate else state.transcript
    seconds = _seconds(data, kind)
    sentences = [s for s in re.split(r"(?<=[.!?。！？])\s*", text) if s]
    step = seconds / max(1, len(sentences))
    segments = [
        {"id": i, "start": round(i * step, 2), "end": round((i + 1) * step, 2), "text": " " + s}
        for i, s in enumerate(sentences)
    ]
    fmt = fields.get("response_format", "json")
    if fmt == "verbose_json":
        language = "english" if translate else {"zh": "chinese"}.get(fields.get("language", ""), "english")
        handler._send_json(
            200,
            {
                "task": "translate" if translate else "transcribe",
                "language": language,
                "duration": seconds,
                "text": text,
                "segments": segments,
            },
        )
        return
    if fmt == "json":
        handler._send_json(200, {"text": text})
        return
    if fmt == "text":
        body = text + "\n"
    elif fmt in ("srt", "vtt"):
        sep = "," if fmt == "srt" else "."
        cues = [
            (f"{s['id'] + 1}\n" if fmt == "srt" else "")
            + f"{_stamp(s['start'], sep)} --> {_stamp(s['end'], sep)}\n{s['text'].strip()}\n"
            for s in segments
        ]
        body = ("WEBVTT\n\n" if fmt == "vtt" else "") + "\n".join(cues)
    else:
        handler._error(400, f"Invalid response_format '{fmt}'.", "invalid_request_error")
        return
    payload = body.encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain; charset=utf-8")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
