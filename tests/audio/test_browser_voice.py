"""Voice as a person uses it, in headless Chromium: dictate with a (fake) microphone, listen to a long reply."""

import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from audio.models import Narration, VoicePreference
from chat.models import Message
from tests.browser import CHROMIUM, FLAGS, last_reply, log_in
from tests.fake_aitre.audio import wav
from tests.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_REPLY = " ".join(f"This is sentence {n} of a long answer about the history of the city." for n in range(120))


@pytest.fixture
def microphone_page(playwright_driver, live_server, alice, tmp_path):
    """Chromium whose microphone plays a WAV the test wrote (Chromium's own fake capture device)."""
    recording = Path(tmp_path) / "question.wav"
    recording.write_bytes(wav(3.0))
    profile = tempfile.mkdtemp(prefix="aitre-chromium-")
    flags = [
        *FLAGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={recording}",
    ]
    context = playwright_driver.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=flags, permissions=["microphone"]
    )
    context.set_default_timeout(10_000)
    log_in(context, live_server, alice)
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


def test_dictate_a_question_read_it_and_send_it(microphone_page, live_server, conversation, fake):
    page = microphone_page
    page.goto(f"{live_server.url}/c/{conversation.pk}/")
    page.wait_for_selector("html[data-voice-ready]", state="attached")
    page.fill("#id_text", "Please answer: ")
    page.click(".dictation button.mic")
    expect(page.locator(".dictation .recording")).to_be_visible()
    expect(page.locator(".dictation .rec-time")).to_have_text("0:01")
    page.click(".dictation .rec-stop")
    expect(page.locator("#id_text")).to_have_value(f"Please answer: {fake.state.transcript}", timeout=15_000)
    sent = fake.audio_requests("/v1/audio/transcriptions")[-1].body
    # What the browser recorded, named and labelled as what it is.
    assert sent["file"][0] == "dictation.webm" and sent["file"][1] == "audio/webm"
    page.locator("#id_text").press("Enter")
    expect(page.locator("article.msg-user").last).to_contain_text(fake.state.transcript)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=15_000)
    assert page.js_errors == []


def test_the_microphone_is_gone_while_recording_and_a_failed_transcription_keeps_the_recording(
    microphone_page, live_server, conversation, fake
):
    """A second click started a second recording (the hidden button showed), and a 429 lost the recording."""
    page = microphone_page
    page.goto(f"{live_server.url}/c/{conversation.pk}/")
    page.wait_for_selector("html[data-voice-ready]", state="attached")
    mic = page.locator(".dictation button.mic")
    mic.click()
    expect(page.locator(".dictation .recording")).to_be_visible()
    expect(mic).to_be_hidden()
    expect(page.locator(".dictation .rec-time")).to_have_text("0:01")
    fake.script("429")
    page.click(".dictation .rec-stop")
    expect(page.locator(".composer-error")).to_be_visible(timeout=15_000)
    expect(mic).to_be_visible()
    again = page.get_by_role("button", name="Transcribe the recording again")
    expect(again).to_be_visible()
    again.click()
    expect(page.locator("#id_text")).to_have_value(fake.state.transcript, timeout=15_000)
    expect(again).to_be_hidden()
    expect(page.locator(".composer-error")).to_be_hidden()
    assert len(fake.audio_requests("/v1/audio/transcriptions")) == 2, "the same recording, sent again"
    assert page.js_errors == []


def test_without_a_speech_model_no_read_aloud_button_shows(alice_page, live_server, conversation, fake):
    from audio.models import VoiceDefaults

    VoiceDefaults.objects.create(speech_model="")
    fake.state.models = ["gpt-4o-mini", "whisper-1"]
    question = Message.objects.create(conversation=conversation, role="user", content="Hi")
    reply = Message.objects.create(
        conversation=conversation, parent=question, role="assistant", content="Hello there.", status="complete"
    )
    conversation.touch(current_leaf=reply)
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    alice_page.wait_for_selector("html[data-voice-ready]", state="attached")
    expect(alice_page.locator(f"#m{reply.pk} button.read-aloud")).to_have_count(1)
    expect(alice_page.locator(f"#m{reply.pk} button.read-aloud")).to_be_hidden()


def test_dictation_can_send_by_itself(microphone_page, live_server, alice, conversation, fake):
    VoicePreference.objects.create(user=alice, auto_send=True)
    page = microphone_page
    page.goto(f"{live_server.url}/c/{conversation.pk}/")
    page.wait_for_selector("html[data-voice-ready]", state="attached")
    page.click(".dictation button.mic")
    expect(page.locator(".dictation .rec-time")).to_have_text("0:01")
    page.click(".dictation .rec-stop")
    expect(page.locator("article.msg-user").last).to_contain_text(fake.state.transcript, timeout=15_000)
    assert Message.objects.filter(role="user", content=fake.state.transcript).exists()


def test_a_refused_microphone_says_so_and_typing_still_works(alice_page, live_server, conversation, fake):
    page = alice_page
    page.goto(f"{live_server.url}/c/{conversation.pk}/")
    page.wait_for_selector("html[data-voice-ready]", state="attached")
    page.click(".dictation button.mic")
    expect(page.locator(".composer-error")).to_contain_text("microphone is not available")
    page.fill("#id_text", "typed instead")
    page.locator("#id_text").press("Enter")
    expect(page.locator("article.msg-user").last).to_contain_text("typed instead")


def test_read_a_long_reply_aloud_then_again_from_the_kept_audio(alice_page, live_server, conversation, fake):
    question = Message.objects.create(conversation=conversation, role="user", content="Tell me about the city")
    reply = Message.objects.create(
        conversation=conversation, parent=question, role="assistant", content=LONG_REPLY, status="complete"
    )
    conversation.touch(current_leaf=reply)
    fake.state.audio_delay = 0.6
    page = alice_page
    page.goto(f"{live_server.url}/c/{conversation.pk}/")
    page.wait_for_selector("html[data-voice-ready]", state="attached")
    button = page.locator(f"#m{reply.pk} button.read-aloud")
    expect(button).to_be_visible()
    button.click()
    page.wait_for_selector(f"#m{reply.pk} .reader[data-playing]", state="attached", timeout=10_000)
    made_when_playing = sum(1 for r in fake.audio_requests() if r.ended)
    expect(page.locator(f"#m{reply.pk} .reader-status")).to_contain_text("Reading 1/")
    pieces = Narration.objects.get().pieces
    assert len(pieces) >= 4
    # Sound before the last piece was made: the first plays while the rest are fetched.
    assert made_when_playing < len(pieces)
    wait_for(lambda: len([r for r in fake.audio_requests() if r.ended]) == len(pieces), timeout=20)
    assert [r.body["input"] for r in fake.audio_requests()] == pieces, "made in order"
    page.click(f"#m{reply.pk} .reader-stop")
    expect(button).to_have_text("Read aloud")
    button.click()
    page.wait_for_selector(f"#m{reply.pk} .reader[data-playing]", state="attached")
    assert len(fake.audio_requests()) == len(pieces), "a second listen makes no call"
    assert page.js_errors == []


def test_a_meeting_recording_becomes_subtitles_without_waiting_on_the_page(alice_page, live_server, fake, tmp_path):
    from tests.fake_aitre.audio import mp3

    fake.state.audio_delay = 1.5
    fake.state.transcript = "Good morning everyone. The budget is approved. The launch moves to May."
    recording = tmp_path / "standup.mp3"
    recording.write_bytes(mp3(75.0))
    page = alice_page
    page.goto(f"{live_server.url}/audio/")
    page.wait_for_selector("html[data-audio-ready]", state="attached")
    page.set_input_files("#id_file", str(recording))
    page.select_option("#id_language", "en")
    page.click("#audio-form button[type=submit]")
    row = page.locator("li.transcription").first
    expect(row.locator(".run-progress")).to_be_visible()
    page.reload()  # closing the page does not stop it; coming back follows it to the end
    page.wait_for_selector("html[data-audio-ready]", state="attached")
    expect(page.locator("li.transcription .transcript-text")).to_contain_text("budget is approved", timeout=15_000)
    expect(page.locator("li.transcription .badge").last).to_have_text("1:15")
    with page.expect_download() as download:
        page.click("li.transcription .downloads a:text('.srt')")
    srt = Path(download.value.path()).read_text()
    assert srt.startswith("1\n00:00:00,000 --> 00:00:25,010\nGood morning everyone.\n\n2\n00:00:25,010 --> ")
    assert page.js_errors == []


def test_a_text_file_called_mp3_is_refused_in_words(alice_page, live_server, fake, tmp_path):
    fake_audio = tmp_path / "notes.mp3"
    fake_audio.write_text("These are my meeting notes, not a recording.\n" * 10)
    page = alice_page
    page.goto(f"{live_server.url}/audio/")
    page.wait_for_selector("html[data-audio-ready]", state="attached")
    page.set_input_files("#id_file", str(fake_audio))
    page.click("#audio-form button[type=submit]")
    expect(page.locator("#audio-form .studio-error")).to_contain_text("not an audio file")
    assert not fake.audio_requests("/v1/audio/transcriptions")
