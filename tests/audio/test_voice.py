"""Voice over HTTP against the fake API: replies read aloud, dictation, audio files turned into text and subtitles."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audio import speakable
from audio.models import Narration, NarrationPiece, Transcription, VoiceDefaults, VoicePreference
from audio.voices import forget
from chat.models import Message
from files.models import StoredFile
from tests.fake_aitre.audio import mp3, wav
from tests.helpers import JSON, wait_for
from usage import metering
from usage.models import Price, Quota, UsageRecord

LONG_REPLY = (
    "# Paris\n\nParis is the **capital** of France. "
    + " ".join(f"Sentence number {n} says something about the city and its long history." for n in range(80))
    + "\n\n```python\nprint('hello')\n```\n\nThat is all."
)


@pytest.fixture(autouse=True)
def fresh_defaults():
    forget()
    yield
    forget()


@pytest.fixture
def reply(owned) -> Message:
    message = Message.objects.get(pk=owned["message"])
    message.content = LONG_REPLY
    message.status = Message.Status.COMPLETE
    message.save()
    return message


def test_a_reply_is_heard_as_words_with_code_announced_and_cut_at_sentences():
    spoken = speakable.speakable(LONG_REPLY)
    assert "**" not in spoken and "#" not in spoken and "print(" not in spoken
    assert "A code block in python" in spoken
    pieces = speakable.pieces(spoken)
    assert len(pieces[0]) <= speakable.FIRST_PIECE_CHARS
    assert all(len(piece) <= 4096 for piece in pieces)
    assert all(piece.rstrip().endswith((".", ")")) for piece in pieces)
    assert " ".join(pieces) == spoken


def test_chinese_is_cut_at_its_own_full_stops():
    pieces = speakable.pieces("第一句话。" * 100)
    assert len(pieces) > 1 and all(piece.endswith("。") for piece in pieces)


def test_read_aloud_makes_each_piece_once_keeps_it_and_records_it(alice, alice_client, reply, fake):
    Price.objects.create(model="tts-1", unit="kchars", unit_price=Decimal("0.015"))
    reading = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    assert len(reading["pieces"]) > 2 and not any(p["url"] for p in reading["pieces"])
    assert not fake.audio_requests(), "setting up a reading makes no call"
    for piece in reading["pieces"]:
        answer = alice_client.post(piece["make"], **JSON)
        assert answer.status_code == 200, answer.content
        audio = alice_client.get(answer.json()["url"])
        assert audio["Content-Type"] == "audio/mpeg"
        assert b"".join(audio.streaming_content)[:2] == b"\xff\xfb"
    calls = fake.audio_requests()
    assert [c.body["input"] for c in calls] == Narration.objects.get().pieces
    assert {c.body["voice"] for c in calls} == {"alloy"} and {c.body["model"] for c in calls} == {"tts-1"}

    again = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    assert all(p["url"] for p in again["pieces"])
    alice_client.post(again["pieces"][0]["make"], **JSON)
    assert len(fake.audio_requests()) == len(calls), "a second listen makes no call"

    records = UsageRecord.objects.filter(kind="speech")
    assert records.count() == len(calls)
    chars = sum(len(p) for p in Narration.objects.get().pieces)
    assert sum(r.units for r in records) == Decimal(chars) / 1000
    assert sum(r.cost for r in records) == (Decimal(chars) / 1000 * Decimal("0.015")).quantize(Decimal("0.000001"))


def test_another_voice_is_another_reading_and_deleting_the_chat_deletes_its_audio(
    alice, alice_client, reply, fake, django_capture_on_commit_callbacks
):
    first = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    alice_client.post(first["pieces"][0]["make"], **JSON)
    VoicePreference.objects.create(user=alice, voice="nova", speed=Decimal("1.25"))
    second = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    assert second["id"] != first["id"] and second["voice"] == "nova"
    alice_client.post(second["pieces"][0]["make"], **JSON)
    assert fake.audio_requests()[-1].body["speed"] == 1.25
    assert StoredFile.objects.filter(kind="audio").count() == 2
    names = [f.blob.name for f in StoredFile.objects.all()]
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("chat:delete", args=[reply.conversation_id]))
    assert not any(StoredFile.blob.field.storage.exists(name) for name in names)
    assert not Narration.objects.exists() and not NarrationPiece.objects.exists()
    assert not StoredFile.objects.filter(kind="audio").exists()


def test_over_the_quota_reading_aloud_says_so_and_makes_no_call(alice, alice_client, reply, fake):
    Quota.objects.create(user=alice, measure="tokens", period="month", token_limit=10)
    metering.record(alice, kind="chat", model="gpt-4o-mini", prompt_tokens=50, completion_tokens=50)
    reading = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    answer = alice_client.post(reading["pieces"][0]["make"], **JSON)
    assert answer.status_code == 429
    assert "limit" in answer.json()["error"]
    assert not fake.audio_requests()


def test_a_piece_that_would_pass_a_cost_limit_is_refused_before_it_is_made(alice, alice_client, reply, fake):
    """A piece admitted just under a 0.005 limit ended at 5x the limit: its price is known before the call."""
    Price.objects.create(model="tts-1", unit="kchars", unit_price=Decimal("0.015"))
    Quota.objects.create(user=alice, measure="cost", period="month", cost_limit=Decimal("0.005"))
    metering.record(alice, kind="chat", model="unpriced-model", prompt_tokens=1)
    reading = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    pieces = Narration.objects.get().pieces
    first = Decimal(len(pieces[0])) / 1000 * Decimal("0.015")
    assert first < Decimal("0.005"), "the first piece fits"
    assert alice_client.post(reading["pieces"][0]["make"], **JSON).status_code == 200
    refused = None
    for piece in reading["pieces"][1:]:
        answer = alice_client.post(piece["make"], **JSON)
        if answer.status_code == 429:
            refused = answer.json()["error"]
            break
    assert refused is not None and "more than the" in refused
    assert len(fake.audio_requests()) == UsageRecord.objects.filter(kind="speech").count(), "refused, no call"
    spent = sum(r.cost or 0 for r in UsageRecord.objects.filter(user=alice))
    assert spent <= Decimal("0.005"), f"spending passed the limit: {spent}"


def test_a_json_error_where_audio_was_expected_is_shown_not_played(alice, alice_client, reply, fake):
    fake.script("json-200")
    reading = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    answer = alice_client.post(reading["pieces"][0]["make"], **JSON)
    assert answer.status_code == 502
    assert "error instead of audio" in answer.json()["error"] and "负载已饱和" in answer.json()["error"]
    assert not NarrationPiece.objects.exists() and not StoredFile.objects.exists()


def test_without_a_speech_model_nothing_is_read_and_a_chat_model_is_never_asked(alice, alice_client, reply, fake):
    VoiceDefaults.objects.create(speech_model="gpt-4o-mini")
    fake.state.models = ["gpt-4o-mini", "whisper-1"]
    answer = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON)
    assert answer.status_code == 400 and "text to speech" in answer.json()["error"]
    refused = alice_client.post(reverse("audio:settings"), {"speech_model": "gpt-4o-mini", "voice": "nova"})
    assert refused.status_code == 400
    assert not VoicePreference.objects.exists() and not fake.audio_requests()


def test_only_a_finished_reply_of_ones_own_is_read(alice_client, bob_client, reply, owned):
    assert bob_client.post(reverse("audio:read", args=[reply.pk]), **JSON).status_code == 404
    question = owned["question"]
    assert alice_client.post(reverse("audio:read", args=[question]), **JSON).status_code == 409
    reading = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    assert bob_client.post(reading["pieces"][0]["make"], **JSON).status_code == 404


def dictate(client, data: bytes, name: str, content_type: str):
    return client.post(reverse("audio:dictate"), {"audio": SimpleUploadedFile(name, data, content_type)}, **JSON)


def test_dictation_sends_the_recording_under_its_real_format_and_records_its_minutes(alice, alice_client, fake):
    Price.objects.create(model="whisper-1", unit="minute", unit_price=Decimal("0.006"))
    VoicePreference.objects.create(user=alice, language="en", auto_send=True)
    answer = dictate(alice_client, wav(3.0), "dictation.mp3", "audio/mpeg")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"text": fake.state.transcript, "send": True}
    sent = fake.audio_requests("/v1/audio/transcriptions")[-1].body
    assert sent["file"][:2] == ("dictation.wav", "audio/wav") and sent["language"] == "en"
    record = UsageRecord.objects.get(kind="transcription")
    assert record.units == Decimal("0.0500") and record.cost == Decimal("0.000300")


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"Just some text pretending to be audio\n" * 20, "notes.mp3", "not an audio file"),
        (b"", "empty.wav", "empty"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "broken.wav", "damaged"),
    ],
)
def test_what_is_not_audio_is_refused_before_any_call(alice_client, fake, data, name, reason):
    answer = dictate(alice_client, data, name, "audio/mpeg")
    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert not fake.audio_requests("/v1/audio/transcriptions")
    assert not UsageRecord.objects.exists()


def test_an_oversized_file_is_refused_with_the_limit(alice_client, fake):
    VoiceDefaults.objects.create(max_audio_mb=1)
    answer = alice_client.post(
        reverse("audio:transcribe"),
        {"file": SimpleUploadedFile("meeting.wav", wav(40.0), "audio/wav"), "task": "transcribe"},
        **JSON,
    )
    assert answer.status_code == 400 and "at most 1 MB" in answer.json()["error"]
    assert not Transcription.objects.exists() and not StoredFile.objects.exists()


def finished(pk: int) -> Transcription:
    wait_for(lambda: not Transcription.objects.get(pk=pk).is_running, timeout=15)
    return Transcription.objects.get(pk=pk)


@pytest.mark.django_db(transaction=True)
def test_a_meeting_becomes_text_and_subtitles_kept_in_the_history(alice, alice_client, bob_client, fake):
    Price.objects.create(model="whisper-1", unit="minute", unit_price=Decimal("0.006"))
    fake.state.transcript = "Welcome to the meeting. First item is the budget. Second item is the launch."
    upload = SimpleUploadedFile("standup.mp3", mp3(90.0), "audio/mpeg")
    started = alice_client.post(
        reverse("audio:transcribe"), {"file": upload, "task": "transcribe", "language": "en", "prompt": "Acme"}
    )
    assert started.status_code == 302
    job = Transcription.objects.get()
    assert round(job.duration) == 90
    job = finished(job.pk)
    assert job.status == "complete", job.error
    assert job.text == fake.state.transcript and len(job.segments) == 3
    sent = fake.audio_requests("/v1/audio/transcriptions")[-1].body
    assert sent["response_format"] == "verbose_json" and sent["prompt"] == "Acme"

    srt = alice_client.get(reverse("audio:download", args=[job.pk]) + "?format=srt")
    assert srt["Content-Disposition"].endswith('standup.srt"')
    assert srt.content.decode().startswith("1\n00:00:00,000 --> 00:00:")
    vtt = alice_client.get(reverse("audio:download", args=[job.pk]) + "?format=vtt").content.decode()
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ") and "Second item is the launch." in vtt
    txt = alice_client.get(reverse("audio:download", args=[job.pk]) + "?format=txt").content.decode()
    assert txt.strip() == fake.state.transcript
    record = UsageRecord.objects.get(kind="transcription")
    # Ninety seconds, as the file's own frames count them (not as the browser or the API says).
    assert abs(record.units - Decimal("1.5")) < Decimal("0.01") and record.subject_id == job.pk

    page = alice_client.get(reverse("audio:page")).content.decode()
    assert "standup.mp3" in page and "Welcome to the meeting" in page
    assert bob_client.get(reverse("audio:transcript", args=[job.pk])).status_code == 404
    assert bob_client.get(reverse("audio:download", args=[job.pk])).status_code == 404

    alice_client.post(reverse("audio:delete", args=[job.pk]))
    assert not Transcription.objects.exists() and not StoredFile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_translation_is_asked_without_a_language_and_a_failure_keeps_nothing_billed(alice, alice_client, fake):
    fake.script("500")
    alice_client.post(
        reverse("audio:transcribe"),
        {"file": SimpleUploadedFile("de.wav", wav(2.0), "audio/wav"), "task": "translate", "language": "de"},
    )
    job = finished(Transcription.objects.get().pk)
    assert job.status == "error" and "500" in job.error and job.can_retry
    assert not UsageRecord.objects.exists()
    assert "language" not in fake.audio_requests("/v1/audio/translations")[-1].body
    retried = alice_client.post(reverse("audio:retry", args=[job.pk]), **JSON)
    again = finished(retried.json()["id"])
    assert again.status == "complete" and again.text == fake.state.translation
    # The retry took the failed run's place: one row in the history and the job centre, not one a try.
    assert list(Transcription.objects.values_list("pk", flat=True)) == [again.pk]
    jobs = alice_client.get(reverse("jobs:page")).content.decode()
    assert jobs.count("de.wav") == 1
    assert UsageRecord.objects.get().kind == "translation"


@pytest.mark.django_db(transaction=True)
def test_a_transcription_whose_process_died_is_interrupted_with_retry(alice, alice_client, fake, settings):
    from datetime import timedelta

    from django.utils import timezone

    stored = StoredFile.objects.create(owner=alice, kind="audio", source="upload", content_type="audio/wav", size=1)
    job = Transcription.objects.create(owner=alice, audio=stored, name="a.wav", model="whisper-1")
    Transcription.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    page = alice_client.get(reverse("audio:page")).content.decode()
    job.refresh_from_db()
    assert job.status == "interrupted" and "Retry" in page
    assert not fake.audio_requests("/v1/audio/transcriptions"), "a paid call is never re-run by itself"


def test_the_voice_settings_say_which_voice_the_site_default_is(alice_client):
    VoiceDefaults.objects.create(voice="nova", speed=Decimal("1.25"))
    page = alice_client.get(reverse("chat:account")).content.decode()
    assert '<option value="" selected>Site default (nova)</option>' in page
    assert "blank for the site's default (1.25)." in page


def test_a_reading_is_named_by_its_conversation_on_the_usage_page(alice, alice_client, reply, fake):
    """Usage rows said "message #6" instead of the conversation."""
    Price.objects.create(model="tts-1", unit="kchars", unit_price=Decimal("0.015"))
    reading = alice_client.post(reverse("audio:read", args=[reply.pk]), **JSON).json()
    alice_client.post(reading["pieces"][0]["make"], **JSON)
    page = alice_client.get(reverse("usage:page")).content.decode()
    assert "Read aloud: Alice&#x27;s chat" in page and "message #" not in page
