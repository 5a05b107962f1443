"""Bad input, floods and replays: a clear 4xx that changes nothing, and each submit recorded once."""

import logging

import pytest
from django.urls import reverse

from aitre.models import Credential
from chat.models import Conversation, Message
from tests.helpers import JSON, alices_state


def test_users_store_a_key_but_never_a_base_url(alice, alice_client):
    alice_client.post(reverse("chat:account"), {"api_key": "sk-alice-own-key-1234", "base_url": "http://10.0.0.1/"})
    credential = Credential.objects.get(user=alice)
    assert credential.base_url == "", "a user cannot point the server at another address"
    assert credential.key == "sk-alice-own-key-1234"


def test_sending_too_fast_is_a_clear_429_that_keeps_the_text(alice_client, conversation, fake, settings):
    settings.CHAT_SENDS_PER_MINUTE = 2
    for text in ["one", "two"]:
        assert alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": text}).status_code == 302
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "three"}, **JSON)
    assert response.status_code == 429
    assert "You are sending messages too fast." in response.json()["error"]
    assert 1 <= int(response["Retry-After"]) <= 60
    page = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "three"})
    assert page.status_code == 429 and ">three</textarea>" in page.content.decode()
    assert len(fake.chat_requests()) == 2
    assert not Message.objects.filter(content="three").exists()


@pytest.mark.parametrize(
    ("url_name", "data", "error"),
    [
        ("chat:send", {"text": "x" * 100_001}, "Ensure this value has at most 100000 characters"),
        ("chat:send", {"text": "   "}, "Write something first."),
        ("chat:send", {"text": "hi", "client_id": "<script>"}, "Enter a valid value."),
        ("chat:settings", {"model": "gpt-4o-mini", "title": "t" * 201}, "at most 200 characters"),
        ("chat:settings", {"model": "gpt-4o-mini", "system_prompt": "s" * 20_001}, "The system prompt is too long"),
        ("chat:settings", {"model": "gpt-4o-mini", "temperature": "7"}, "Temperature must be between 0 and 2."),
        ("chat:settings", {"model": "gpt-4o-mini", "temperature": "warm"}, "Enter a number."),
        ("chat:settings", {"model": "no-such-model"}, "This model is not offered."),
    ],
)
def test_bad_input_is_a_clear_400_and_changes_nothing(alice_client, conversation, fake, url_name, data, error):
    before = alices_state()
    response = alice_client.post(reverse(url_name, args=[conversation.pk]), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert alices_state() == before
    assert not fake.chat_requests()


def test_an_unknown_model_for_a_new_chat_is_refused(alice_client, fake):
    response = alice_client.post(reverse("chat:start"), {"text": "Hi", "model": "gpt-9-ultra"}, **JSON)
    assert response.status_code == 400 and "This model is not offered." in response.json()["error"]
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("accept", ["text/event-stream", "application/json", "text/html"])
def test_a_paste_over_the_request_limit_gets_the_length_message_and_no_traceback(
    alice_client, conversation, settings, fake, caplog, accept
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    caplog.set_level(logging.INFO)
    before = alices_state()
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "x" * 5000}, HTTP_ACCEPT=accept)
    assert response.status_code == 413
    message = response.json()["error"] if accept != "text/html" else response.content.decode()
    assert "a message may have at most 100,000 characters" in message
    assert alices_state() == before and not fake.chat_requests()
    # Django notes every 4xx as a warning line; an error or a traceback is another matter.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "a clear answer, not an error"


def test_a_replayed_send_is_recorded_once(alice_client, conversation, fake):
    data = {"text": "Only once, please", "client_id": "a1b2c3d4e5f6a7b8"}
    first = alice_client.post(reverse("chat:send", args=[conversation.pk]), data)
    again = alice_client.post(reverse("chat:send", args=[conversation.pk]), data)
    assert first["Location"] == again["Location"], "the replay lands on the same reply"
    assert conversation.messages.filter(content="Only once, please").count() == 1
    assert len(fake.chat_requests()) == 1
    replayed_json = alice_client.post(reverse("chat:send", args=[conversation.pk]), data, **JSON)
    assert replayed_json.status_code == 200
    assert replayed_json.json()["reply"] == Message.objects.get(role="assistant").pk
    assert len(fake.chat_requests()) == 1
    fresh = alice_client.post(reverse("chat:send", args=[conversation.pk]), {**data, "client_id": "ffffeeeeddddcccc"})
    assert fresh.status_code == 302 and len(fake.chat_requests()) == 2


def test_a_replayed_new_chat_opens_the_chat_it_made(alice_client, fake):
    data = {"text": "A new chat", "model": "gpt-4o-mini", "client_id": "0123456789abcdef"}
    first = alice_client.post(reverse("chat:start"), data)
    again = alice_client.post(reverse("chat:start"), data)
    assert Conversation.objects.count() == 1
    assert again["Location"].split("#")[0] == first["Location"].split("#")[0]


@pytest.mark.parametrize("body", [{}, "json"])
def test_a_settings_form_not_sent_whole_changes_nothing(alice, alice_client, conversation, body):
    """An empty or JSON body reset the voice settings to the defaults ("saved") and cleared a title."""
    from audio.models import VoicePreference
    from playground.models import CompletionRun

    preference = VoicePreference.objects.create(user=alice, voice="nova", language="de", auto_send=True)
    conversation.touch(title="Kept title")
    Conversation.objects.filter(pk=conversation.pk).update(system_prompt="Be brief.", temperature=0.3)
    run = CompletionRun.objects.create(owner=alice, model="gpt-3.5-turbo-instruct", prompt="Once", title="My run")
    before = alices_state()

    def post(url: str):
        if body == "json":
            return alice_client.post(url, {"title": ""}, content_type="application/json")
        return alice_client.post(url, body)

    for url in (
        reverse("audio:settings"),
        reverse("chat:settings", args=[conversation.pk]),
        reverse("playground:rename", args=[run.pk]),
    ):
        assert post(url).status_code == 400, url
    preference.refresh_from_db()
    assert (preference.voice, preference.language, preference.auto_send) == ("nova", "de", True)
    assert CompletionRun.objects.get().title == "My run"
    assert alices_state() == before
