"""
What the bytes of an audio file really hold: its length counted from the
audio present, and a copy without tags.

A header is only a claim. A recorder writing to a pipe leaves 0xFFFFFFFF in
a WAV's size fields, a cut download keeps the header of the whole, and a
crafted file can claim an hour in a second of sound: billed by the claim,
a one-second WAV cost 6.71 USD. So each container's length is counted from
what is there, and where header and bytes disagree the bytes win:

- WAV: the data chunk's bytes actually present, over the format's byte rate.
- MP3: the MPEG frames actually present, each with its samples and rate
  (a Xing or VBRI header's frame count is a claim too, and is not read).
- FLAC: the last whole frame's own sample number plus its block size.
- Ogg (Opus, Vorbis, FLAC): the last whole page's granule position, capped
  by what the packets present can hold (Opus: 120 ms a packet; Vorbis and
  FLAC: their largest block).
- MP4 and M4A: the movie header's length, capped at what the bytes present
  hold at 6 kbit/s, the lowest rate a speech codec is written at.

Tags (ID3, APE, RIFF INFO and other chunks, Vorbis comments, pictures, MP4
metadata with its names, GPS positions and links) are removed on upload, as
images are stripped of EXIF: what is kept and sent is the sound alone.
"""

import io
import struct
from collections.abc import Iterator

from mutagen import MutagenError  # type: ignore[attr-defined]
from mutagen.flac import FLAC
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

# The fewest bytes a second of real speech is written in (Opus at 6 kbit/s).
FLOOR_BYTES_PER_SECOND = 750


class Unreadable(ValueError):
    """The bytes hold no audio this module can count."""


# --- WAV ----------------------------------------------------------------------------


def _riff_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Each chunk's id, where its body starts and how much of it is present (its claim capped by the file)."""
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, claimed = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        start = offset + 8
        present = min(claimed, len(data) - start)
        yield chunk_id, start, present
        offset = start + present + (present & 1)


def wav(data: bytes) -> tuple[float, bytes]:
    """The seconds of sound present, and the file rebuilt from its format and its sound alone."""
    fmt = body = None
    for chunk_id, start, present in _riff_chunks(data):
        if chunk_id == b"fmt " and present >= 16:
            fmt = data[start : start + present]
        elif chunk_id == b"data" and fmt is not None:
            body = data[start : start + present]
            break
    if fmt is None or body is None:
        raise Unreadable("no format or no data chunk")
    channels, rate, byte_rate, block_align = struct.unpack("<HIIH", fmt[2:14])
    if not (channels and rate and byte_rate and block_align):
        raise Unreadable("a format of zeros")
    body = body[: len(body) - len(body) % block_align]  # a cut last frame is not sound
    if not body:
        raise Unreadable("no whole frame")
    rebuilt = b"".join(
        [
            b"RIFF",
            struct.pack("<I", 4 + 8 + len(fmt) + (len(fmt) & 1) + 8 + len(body) + (len(body) & 1)),
            b"WAVEfmt ",
            struct.pack("<I", len(fmt)),
            fmt + b"\0" * (len(fmt) & 1),
            b"data",
            struct.pack("<I", len(body)),
            body + b"\0" * (len(body) & 1),
        ]
    )
    return len(body) / byte_rate, rebuilt


# --- MP3 ----------------------------------------------------------------------------

# Kilobits a second by [MPEG-1?][layer][index]; samples a frame by [MPEG-1?][layer].
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """At ``offset``, a frame's (length in bytes, samples, sample rate), or None when no frame starts there."""
    if offset + 4 > len(data) or data[offset] != 0xFF or data[offset + 1] & 0xE0 != 0xE0:
        return None
    b1, b2 = data[offset + 1], data[offset + 2]
    version, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1, layer = version == 3, 4 - layer_bits
    bitrate = _BITRATES[mpeg1, layer][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4, 384, rate
    samples = 1152 if layer == 2 or mpeg1 else 576
    return samples // 8 * bitrate // rate + padding, samples, rate


def _id3v2_end(data: bytes) -> int:
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    return 10 + size + (10 if data[5] & 0x10 else 0)  # a footer after the tag


def mp3(data: bytes) -> tuple[float, bytes]:
    """The seconds in the whole frames present, and those frames alone (no ID3, no APE, no junk)."""
    offset, seconds, frames = _id3v2_end(data), 0.0, []
    while offset < len(data):
        frame = _mpeg_frame(data, offset)
        if frame is None or offset + frame[0] > len(data):
            offset += 1  # junk, a tag, or a cut last frame: look for the next frame
            continue
        length, samples, rate = frame
        frames.append(data[offset : offset + length])
        seconds += samples / rate
        offset += length
    if not frames:
        raise Unreadable("no MPEG frame")
    return seconds, b"".join(frames)


# --- FLAC ---------------------------------------------------------------------------


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _bit in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _utf8_number(data: bytes, offset: int) -> tuple[int, int] | None:
    """FLAC's UTF-8-like coded frame or sample number at ``offset``: (value, bytes used)."""
    if offset >= len(data):
        return None
    first = data[offset]
    if first < 0x80:
        return first, 1
    extra = next((n for n in range(1, 7) if first & (0x80 >> (n + 1)) == 0), None)
    if extra is None or first & 0x40 == 0 or offset + extra >= len(data):
        return None
    value = first & (0x3F >> extra)
    for byte in data[offset + 1 : offset + 1 + extra]:
        if byte & 0xC0 != 0x80:
            return None
        value = (value << 6) | (byte & 0x3F)
    return value, 1 + extra


_FLAC_BLOCK_SIZES = {1: 192, 2: 576, 3: 1152, 4: 2304, 5: 4608, 8: 256, 9: 512, 10: 1024, 11: 2048}
_FLAC_BLOCK_SIZES |= {12: 4096, 13: 8192, 14: 16384, 15: 32768}


def _flac_frame_end_sample(data: bytes, offset: int, fixed_block: int) -> int | None:
    """The sample after the frame whose header starts at ``offset`` (checked by its CRC-8), else None."""
    if data[offset] != 0xFF or data[offset + 1] not in (0xF8, 0xF9) or offset + 6 > len(data):
        return None
    variable = data[offset + 1] == 0xF9
    size_code = data[offset + 2] >> 4
    rate_code = data[offset + 2] & 0x0F
    if size_code == 0 or rate_code == 15 or data[offset + 3] & 1:
        return None
    number = _utf8_number(data, offset + 4)
    if number is None:
        return None
    value, used = number
    position = offset + 4 + used
    if size_code == 6:
        block = data[position] + 1 if position < len(data) else 0
        position += 1
    elif size_code == 7:
        block = int.from_bytes(data[position : position + 2], "big") + 1
        position += 2
    else:
        block = _FLAC_BLOCK_SIZES.get(size_code, 0)
    position += {12: 1, 13: 2, 14: 2}.get(rate_code, 0)
    if not block or position >= len(data) or _crc8(data[offset:position]) != data[position]:
        return None
    first = value if variable else value * fixed_block
    return first + block


def flac(data: bytes) -> tuple[float, bytes]:
    """The seconds to the end of the last whole frame present, and the file without tags or pictures."""
    try:
        parsed = FLAC(io.BytesIO(data))
    except MutagenError as exc:
        raise Unreadable(str(exc)) from exc
    rate, fixed_block = parsed.info.sample_rate, parsed.info.max_blocksize
    if not rate:
        raise Unreadable("no sample rate")
    # The last frame present, found from the end: a frame is at least a few bytes, a header 6 to 16.
    for offset in range(len(data) - 6, 3, -1):
        if data[offset] == 0xFF and data[offset + 1] in (0xF8, 0xF9):
            end = _flac_frame_end_sample(data, offset, fixed_block)
            if end is not None:
                break
    else:
        raise Unreadable("no FLAC frame")
    return end / rate, _without_tags(data, FLAC)


# --- Ogg ----------------------------------------------------------------------------


def ogg(data: bytes) -> tuple[float, bytes]:
    """The last whole page's granule position, capped by what its packets can hold; the file without comments."""
    kind = next(
        (
            (cls, rate, most)
            for magic, cls, rate, most in (
                (b"OpusHead", OggOpus, 48000, 5760),
                (b"\x01vorbis", OggVorbis, 0, 8192),
                (b"\x7fFLAC", OggFLAC, 0, 65535),
            )
            if magic in data[:128]
        ),
        None,
    )
    if kind is None:
        raise Unreadable("an Ogg codec this site does not take")
    cls, rate, most_per_packet = kind
    try:
        parsed = cls(io.BytesIO(data))
    except MutagenError as exc:
        raise Unreadable(str(exc)) from exc
    rate = rate or getattr(parsed.info, "sample_rate", 0)
    head = data.find(b"OpusHead")
    pre_skip = struct.unpack("<H", data[head + 10 : head + 12])[0] if cls is OggOpus and head >= 0 else 0
    offset, packets, granule = 0, 0, 0
    while offset + 27 <= len(data) and data[offset : offset + 4] == b"OggS":
        segments = data[offset + 26]
        table = data[offset + 27 : offset + 27 + segments]
        end = offset + 27 + segments + sum(table)
        if len(table) < segments or end > len(data):
            break  # a cut last page
        packets += sum(1 for lace in table if lace < 255)
        page_granule = struct.unpack("<q", data[offset + 6 : offset + 14])[0]
        if page_granule >= 0:
            granule = page_granule
        offset = end
    if not rate or not packets:
        raise Unreadable("no whole page")
    samples = min(max(granule - pre_skip, 0), packets * most_per_packet)
    return samples / rate, _without_tags(data, cls)


# --- MP4 ----------------------------------------------------------------------------


def mp4(data: bytes) -> tuple[float, bytes]:
    """The movie's length, capped at what the bytes present can hold; the file without its metadata."""
    try:
        parsed = MP4(io.BytesIO(data))  # type: ignore[no-untyped-call]
    except MutagenError as exc:
        raise Unreadable(str(exc)) from exc
    claimed = float(getattr(parsed.info, "length", 0) or 0)
    if claimed <= 0:
        raise Unreadable("no length")
    return min(claimed, len(data) / FLOOR_BYTES_PER_SECOND), _without_tags(data, MP4)


def _without_tags(data: bytes, cls: type) -> bytes:
    """The file rewritten by mutagen without its tags (comments, pictures, names)."""
    buffer = io.BytesIO(data)
    try:
        parsed = cls(buffer)
        if isinstance(parsed, FLAC):
            parsed.clear_pictures()  # type: ignore[no-untyped-call]
        buffer.seek(0)
        parsed.delete(buffer)
    except MutagenError:
        return data  # nothing mutagen can rewrite: the container had no tags to remove
    return buffer.getvalue()


READERS = {"wav": wav, "mp3": mp3, "flac": flac, "ogg": ogg, "mp4": mp4, "m4a": mp4}


def measure(data: bytes, extension: str) -> tuple[float, bytes]:
    """Seconds of sound present, and the bytes to keep, for a container ``files.audio.sniff`` named."""
    return READERS[extension](data)
