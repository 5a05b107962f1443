"""An audio file's length is what its bytes hold, never what its header claims; its tags are not kept."""

import io
import struct

import numpy as np
import pytest
import soundfile

from files.audio import BadAudio, check

TAGS = {"title": "Secret title", "artist": "someone@example.org", "comment": "https://tracker.example/gps"}
KINDS = [
    ("wav", "WAV", "PCM_16", 16000),
    ("flac", "FLAC", "PCM_16", 16000),
    ("ogg", "OGG", "VORBIS", 16000),
    ("ogg", "OGG", "OPUS", 48000),
    ("mp3", "MP3", "MPEG_LAYER_III", 16000),
]


def tone(fmt: str, subtype: str, rate: int, seconds: float = 1.0, tags: dict[str, str] | None = None) -> bytes:
    """A real file of a 440 Hz tone, written by libsndfile, with the tags recorders and editors add."""
    out = io.BytesIO()
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype("float32")
    with soundfile.SoundFile(out, "w", rate, 1, subtype, format=fmt) as sound:
        for name, value in (tags or {}).items():
            setattr(sound, name, value)
        sound.write(samples)
    return out.getvalue()


def measured(data: bytes) -> float:
    checked = check(data, "upload", max_bytes=25 * 1024 * 1024)
    assert checked.duration is not None
    return checked.duration


@pytest.mark.parametrize(("extension", "fmt", "subtype", "rate"), KINDS, ids=[k[2] for k in KINDS])
def test_each_container_is_measured_by_its_sound_and_kept_without_its_tags(extension, fmt, subtype, rate):
    data = tone(fmt, subtype, rate, seconds=2.0, tags=TAGS)
    assert b"someone@example.org" in data
    checked = check(data, f"take.{extension}", max_bytes=25 * 1024 * 1024)
    assert checked.format.extension == extension
    # MP3 encoders add a frame or two of delay and padding.
    assert 2.0 <= checked.duration < 2.2
    for value in TAGS.values():
        assert value.encode() not in checked.data
    # What is kept is still the same sound, read the same way.
    assert soundfile.info(io.BytesIO(checked.data)).frames >= int(rate * 2.0) - 1152
    assert measured(checked.data) == checked.duration


def _wav_with_sizes(data: bytes, riff: int, body: int) -> bytes:
    at = data.index(b"data")
    return data[:4] + struct.pack("<I", riff) + data[8 : at + 4] + struct.pack("<I", body) + data[at + 8 :]


def test_a_wav_claiming_more_data_than_it_holds_is_the_length_it_holds():
    """A 1-second WAV whose data size claims more: billed as 1118:29 (6.71 USD) by the claim."""
    one_second = tone("WAV", "PCM_16", 16000, seconds=1.0)
    assert measured(_wav_with_sizes(one_second, 0x7FFFFFF0, 0x7FFFFF00)) == pytest.approx(1.0)


def test_a_wav_written_to_a_pipe_is_the_length_it_holds():
    """Recorders writing to a pipe leave 0xFFFFFFFF in both size fields: billed 13.42 USD for five seconds."""
    five_seconds = tone("WAV", "PCM_16", 16000, seconds=5.0)
    piped = _wav_with_sizes(five_seconds, 0xFFFFFFFF, 0xFFFFFFFF)
    checked = check(piped, "pipe.wav", max_bytes=25 * 1024 * 1024)
    assert checked.duration == pytest.approx(5.0)
    # What is kept and sent says its true size.
    assert soundfile.info(io.BytesIO(checked.data)).frames == 5 * 16000


def test_a_cut_file_is_the_length_of_what_is_left():
    for fmt, subtype, rate in (("WAV", "PCM_16", 16000), ("MP3", "MPEG_LAYER_III", 16000), ("FLAC", "PCM_16", 16000)):
        whole = tone(fmt, subtype, rate, seconds=4.0)
        half = whole[: len(whole) // 2]
        assert measured(half) < 0.6 * measured(whole), f"{subtype}: a file cut in half kept its claimed length"


def test_a_flac_whose_stream_info_claims_an_hour_is_the_length_of_its_frames():
    data = bytearray(tone("FLAC", "PCM_16", 16000, seconds=1.0))
    # STREAMINFO's 36 bits of total samples end its 18th byte (after "fLaC" and the block header).
    info = 8
    packed = int.from_bytes(data[info + 10 : info + 18], "big")
    packed = (packed & ~((1 << 36) - 1)) | (16000 * 3600)
    data[info + 10 : info + 18] = packed.to_bytes(8, "big")
    assert measured(bytes(data)) == pytest.approx(1.0)


def test_an_ogg_page_claiming_an_hour_is_capped_by_the_packets_it_carries():
    data = bytearray(tone("OGG", "OPUS", 48000, seconds=1.0))
    last = data.rindex(b"OggS")
    data[last + 6 : last + 14] = struct.pack("<q", 48000 * 3600)
    # Fifty 20 ms packets can hold at most fifty times 120 ms.
    assert measured(bytes(data)) <= 60 * 0.12


def test_an_mp3_of_junk_after_its_id3_tag_is_refused():
    junk = b"ID3\x04\x00\x00\x00\x00\x00\x10" + b"\x00" * 16 + b"Not an MPEG frame at all" * 10
    with pytest.raises(BadAudio) as refused:
        check(junk, "empty.mp3", max_bytes=1024 * 1024)
    assert "damaged" in refused.value.reason
