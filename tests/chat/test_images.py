"""Images in chat: attached to a message, sent to vision models, and pictures in replies kept for good."""

import base64
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from aitre.models import ModelSetting
from chat import payload, threads
from chat.models import Conversation, Message
from files.models import StoredFile, UploadPolicy
from tests.files.images import photo_with_gps, picture
from tests.helpers import JSON, alices_state
from usage.models import Price, UsageRecord


def upload(name="screenshot.png", data=None, content_type="image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else picture("PNG"), content_type=content_type)


def sent_images(fake) -> list[bytes]:
    """The images of the last chat request, decoded from their data URLs."""
    found = []
    for message in fake.chat_requests()[-1].body["messages"]:
        for part in message["content"] if isinstance(message["content"], list) else []:
            if part["type"] == "image_url":
                header, data = part["image_url"]["url"].split(",", 1)
                assert header.startswith("data:image/") and header.endswith(";base64")
                found.append(base64.b64decode(data))
    return found


@pytest.fixture
def seeing(alice) -> Conversation:
    """A conversation with a model that takes images."""
    return Conversation.objects.create(owner=alice, model="gpt-4o")


def test_an_image_goes_with_the_message_to_a_vision_model_as_a_data_url(alice_client, seeing, fake):
    response = alice_client.post(
        reverse("chat:send", args=[seeing.pk]), {"text": "What is on my screen?", "images": [upload()]}
    )
    assert response.status_code == 302
    question = seeing.messages.get(role="user")
    [part] = question.parts
    stored = StoredFile.objects.get(pk=part["file"])
    assert (stored.owner, stored.source, stored.origin_id) == (seeing.owner, "upload", seeing.pk)
    content = fake.chat_requests()[-1].body["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "What is on my screen?"}
    assert sent_images(fake) == [stored.read()]
    assert seeing.messages.get(role="assistant").status == "complete"


def test_the_thread_shows_the_images_thumbnail_linked_to_the_full_picture(alice_client, seeing, fake):
    alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": "Look", "images": [upload("a.png")]})
    stored = StoredFile.objects.get()
    page = alice_client.get(seeing.get_absolute_url()).content.decode()
    assert f'href="{stored.get_absolute_url()}"' in page
    assert f'src="{stored.thumbnail_url}"' in page


def test_an_image_alone_is_a_message(alice_client, seeing, fake):
    response = alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": "", "images": [upload()]})
    assert response.status_code == 302
    assert len(sent_images(fake)) == 1
    assert fake.chat_requests()[-1].body["messages"][-1]["content"][0]["type"] == "image_url"


def test_neither_text_nor_image_is_refused(alice_client, seeing):
    response = alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": "  "}, **JSON)
    assert response.status_code == 400
    assert "Write something first" in response.json()["error"]


def test_the_metadata_of_a_photo_never_reaches_the_model(alice_client, seeing, fake):
    alice_client.post(
        reverse("chat:send", args=[seeing.pk]), {"text": "Where?", "images": [upload("IMG.jpg", photo_with_gps())]}
    )
    [sent] = sent_images(fake)
    assert b"PhoneMaker" not in sent
    assert not Image.open(io.BytesIO(sent)).getexif()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.png", b"just some text, not a picture", "not an image"),
        ("scan.bmp", picture("BMP"), "only PNG, JPEG, WebP and GIF"),
        ("cut.png", picture("PNG")[:50], "damaged"),
    ],
)
def test_a_bad_file_is_a_400_naming_it_and_nothing_is_kept(alice_client, seeing, fake, name, data, reason):
    before = alices_state()
    response = alice_client.post(
        reverse("chat:send", args=[seeing.pk]),
        {"text": "Keep my words", "images": [upload(), upload(name, data)]},
        **JSON,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert name in error and reason in error
    assert alices_state() == before
    assert not StoredFile.objects.exists()
    assert not fake.chat_requests()


def test_a_bad_file_without_javascript_keeps_the_text_in_the_composer(alice_client, seeing):
    response = alice_client.post(
        reverse("chat:send", args=[seeing.pk]), {"text": "Keep my words", "images": [upload("x.png", b"nope")]}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Keep my words" in page and "x.png" in page


def test_too_large_and_too_many_follow_the_admins_limits(alice_client, seeing):
    UploadPolicy.objects.create(max_upload_mb=1, max_images_per_message=2)
    big = picture("PNG", size=(800, 800), colour=(1, 2, 3), compress_level=0)
    assert len(big) > 1024 * 1024
    response = alice_client.post(
        reverse("chat:send", args=[seeing.pk]), {"text": "Hi", "images": [upload("huge.png", big)]}, **JSON
    )
    assert response.status_code == 400 and "huge.png" in response.json()["error"] and "1 MB" in response.json()["error"]
    response = alice_client.post(
        reverse("chat:send", args=[seeing.pk]), {"text": "Hi", "images": [upload(), upload(), upload()]}, **JSON
    )
    assert response.status_code == 400 and "At most 2 images" in response.json()["error"]
    assert not StoredFile.objects.exists()


def test_the_long_side_follows_the_admins_limit(alice_client, seeing, fake):
    UploadPolicy.objects.create(max_long_side=500)
    alice_client.post(
        reverse("chat:send", args=[seeing.pk]), {"text": "Hi", "images": [upload("w.png", picture("PNG", (2000, 800)))]}
    )
    [sent] = sent_images(fake)
    assert Image.open(io.BytesIO(sent)).size == (500, 200)


def test_a_model_without_vision_refuses_images_and_keeps_everything_as_it_was(alice_client, conversation, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", capabilities=["chat"])
    before = alices_state()
    response = alice_client.post(
        reverse("chat:send", args=[conversation.pk]), {"text": "See this", "images": [upload()]}, **JSON
    )
    assert response.status_code == 400
    assert "does not take images" in response.json()["error"]
    assert alices_state() == before
    assert not StoredFile.objects.exists()
    assert not fake.chat_requests()


def test_the_attach_button_is_off_for_a_model_without_vision(alice_client, conversation, seeing):
    ModelSetting.objects.create(name="gpt-4o-mini", capabilities=["chat"])
    ModelSetting.objects.create(name="gpt-4o", capabilities=["chat", "vision"])
    off = alice_client.get(conversation.get_absolute_url()).content.decode()
    on = alice_client.get(seeing.get_absolute_url()).content.decode()
    assert 'class="attach-button off"' in off and 'name="images" multiple' in off and "disabled" in off
    assert 'class="attach-button"' in on
    home = alice_client.get(reverse("chat:home")).content.decode()
    assert 'value="gpt-4o" data-vision="1"' in home
    assert 'value="gpt-4o-mini" data-vision' not in home


def test_a_quota_refusal_keeps_no_file(alice_client, seeing, settings):
    settings.CHAT_SENDS_PER_MINUTE = 1
    alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": "first"})
    response = alice_client.post(
        reverse("chat:send", args=[seeing.pk]), {"text": "again", "images": [upload()]}, **JSON
    )
    assert response.status_code == 429
    assert not StoredFile.objects.exists()
    assert not [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def test_a_new_chat_can_start_with_an_image(alice_client, alice, fake):
    response = alice_client.post(
        reverse("chat:start"), {"text": "What is this?", "model": "gpt-4o", "images": [upload()]}
    )
    assert response.status_code == 302
    conversation = Conversation.objects.get(owner=alice)
    assert StoredFile.objects.get().origin_id == conversation.pk
    assert len(sent_images(fake)) == 1


def test_an_edit_keeps_the_images_of_the_message(alice_client, seeing, fake):
    alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": "Look", "images": [upload()]})
    question = seeing.messages.get(role="user")
    alice_client.post(reverse("chat:edit", args=[question.pk]), {"text": "Look closer"})
    assert len(sent_images(fake)) == 1
    assert fake.chat_requests()[-1].body["messages"][-1]["content"][0]["text"] == "Look closer"


def test_an_image_deleted_from_the_library_is_left_out_of_later_prompts(alice_client, seeing, fake):
    alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": "Look", "images": [upload()]})
    StoredFile.objects.get().delete_with_blobs()
    alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": "And now?"})
    assert sent_images(fake) == []
    assert fake.chat_requests()[-1].body["messages"][0]["content"] == [{"type": "text", "text": "Look"}]


# --- The context budget ------------------------------------------------------------


def test_images_count_in_the_context_by_their_size():
    from aitre import tokens

    assert tokens.image_tokens(512, 512) == 85 + 170
    assert tokens.image_tokens(1920, 1080) == 85 + 170 * 6
    assert tokens.image_tokens(None, None) == tokens.PER_IMAGE


def test_when_history_is_trimmed_old_images_go_before_old_words(alice, seeing):
    setting = ModelSetting.objects.create(
        name="gpt-4o", capabilities=["chat", "vision"], context_tokens=2200, max_tokens=256
    )
    picture_part = {"type": "image_url", "file": "00000000-0000-4000-8000-000000000001", "width": 1920, "height": 1080}
    old = Message.objects.create(conversation=seeing, role="user", content="old words", parts=[picture_part])
    answer = Message.objects.create(conversation=seeing, parent=old, role="assistant", content="an answer")
    new = Message.objects.create(
        conversation=seeing, parent=answer, role="user", content="new words", parts=[dict(picture_part)]
    )
    reply = Message.objects.create(conversation=seeing, parent=new, role="assistant", status="pending")
    body, dropped = payload.build_payload(seeing, threads.history(reply), setting)
    texts = json.dumps(body)
    # Two 1,105-token pictures do not fit 2,200 tokens beside the reply: the old one goes, its words stay.
    assert "old words" in texts and "an answer" in texts and "new words" in texts
    assert dropped == 0
    # The old message goes as its words alone.
    assert body["messages"][0]["content"] == "old words"


def test_a_model_without_vision_gets_the_words_of_earlier_images_only(alice, seeing):
    setting = ModelSetting.objects.create(name="gpt-4o", capabilities=["chat"])
    picture_part = {"type": "image_url", "file": "00000000-0000-4000-8000-000000000001", "width": 10, "height": 10}
    old = Message.objects.create(conversation=seeing, role="user", content="old", parts=[picture_part])
    answer = Message.objects.create(conversation=seeing, parent=old, role="assistant", content="answer")
    new = Message.objects.create(conversation=seeing, parent=answer, role="user", content="now text")
    reply = Message.objects.create(conversation=seeing, parent=new, role="assistant", status="pending")
    body, _dropped = payload.build_payload(seeing, threads.history(reply), setting)
    assert body["messages"][0]["content"] == "old"


# --- Pictures in replies ---------------------------------------------------------------


@pytest.fixture
def drawing(alice) -> Conversation:
    ModelSetting.objects.create(name="gpt-4o-image", capabilities=["chat", "vision", "image_output"])
    return Conversation.objects.create(owner=alice, model="gpt-4o-image")


def test_a_picture_in_a_reply_is_kept_and_the_reply_points_at_the_copy(alice_client, drawing, fake):
    alice_client.post(reverse("chat:send", args=[drawing.pk]), {"text": "create a war cat"})
    reply = drawing.messages.get(role="assistant")
    kept = StoredFile.objects.get()
    assert (kept.source, kept.model, kept.prompt, kept.origin_id) == (
        "chat",
        "gpt-4o-image",
        "create a war cat",
        drawing.pk,
    )
    assert fake.state.pictures_served == 1  # the image link and the download link are one picture
    assert "/fake/pictures/" not in reply.content
    assert f"![gen_01]({kept.get_absolute_url()})" in reply.content
    assert f'<img src="{kept.get_absolute_url()}"' in reply.rendered
    # After the upstream link has expired, and after a reload, the picture is still there.
    page = alice_client.get(drawing.get_absolute_url()).content.decode()
    assert f'<img src="{kept.get_absolute_url()}"' in page
    assert alice_client.get(kept.get_absolute_url()).status_code == 200


def test_a_follow_up_sends_the_kept_picture_as_an_image_the_api_can_read(alice_client, drawing, fake):
    """ "Make it blue" sent the earlier picture as a site-relative /files/ link the API cannot fetch."""
    alice_client.post(reverse("chat:send", args=[drawing.pk]), {"text": "create a war cat"})
    kept = StoredFile.objects.get()
    alice_client.post(reverse("chat:send", args=[drawing.pk]), {"text": "Make it blue"})
    sent = fake.chat_requests()[-1].body["messages"]
    assert "/files/" not in json.dumps(sent)
    earlier_reply, follow_up = sent[-2], sent[-1]
    assert earlier_reply["role"] == "assistant" and "[gen_01]" in earlier_reply["content"]
    # The API takes images from the user only: the picture goes with the follow-up.
    assert follow_up["role"] == "user"
    images = [part for part in follow_up["content"] if part["type"] == "image_url"]
    assert len(images) == 1, "the picture linked twice is one picture"
    data = base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])
    assert data == kept.blob.open("rb").read()
    assert {"type": "text", "text": "Make it blue"} in follow_up["content"]


@pytest.mark.django_db(transaction=True)
def test_the_streamed_page_and_the_reloaded_one_show_the_same_picture(alice_client, drawing, fake):
    from tests.chat.test_replies import events_of

    response = alice_client.post(
        reverse("chat:send", args=[drawing.pk]), {"text": "draw"}, HTTP_ACCEPT="text/event-stream"
    )
    events = events_of(response)
    final = [data for name, data in events if name == "end"][-1]
    kept = StoredFile.objects.get()
    assert f'<img src="{kept.get_absolute_url()}"' in final["html"]


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [("picture-expired", "expired"), ("picture-private", "private"), ("picture-failed", "without a picture")],
)
def test_a_picture_reply_that_delivered_no_picture_has_failed_and_costs_nothing(
    alice_client, alice, drawing, fake, scenario, reason
):
    """A failed gpt-4o-image reply was billed and looked like an ordinary reply."""
    Price.objects.create(model="gpt-4o-image", unit="tokens", input_price="5", output_price="40")
    fake.script(scenario)
    alice_client.post(reverse("chat:send", args=[drawing.pk]), {"text": "draw"})
    reply = drawing.messages.get(role="assistant")
    assert reply.status == "error" and reason in reply.error
    assert not StoredFile.objects.exists()
    assert "<img" not in reply.rendered  # never loaded from elsewhere
    page = alice_client.get(drawing.get_absolute_url()).content.decode()
    assert reason in page and "Retry" in page
    charge, refund = UsageRecord.objects.filter(user=alice).order_by("pk")
    assert charge.cost > 0 and refund.refund_of == charge and refund.cost == -charge.cost
    assert sum(r.cost for r in UsageRecord.objects.all()) == 0


def test_a_model_without_image_output_keeps_its_links_as_links(alice_client, conversation, fake):
    fake.script("picture")
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "draw"})
    assert not StoredFile.objects.exists()
    assert fake.state.pictures_served == 0


def test_a_body_larger_than_every_image_allowed_is_refused_before_it_is_read(alice_client, seeing, fake):
    UploadPolicy.objects.create(max_upload_mb=1, max_images_per_message=1)
    big = SimpleUploadedFile("huge.png", b"\0" * (4 * 1024 * 1024), content_type="image/png")
    response = alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": "Hi", "images": [big]}, **JSON)
    assert response.status_code == 413
    assert "at most 1 image of 1 MB may go" in response.json()["error"]
    assert not seeing.messages.exists() and not fake.chat_requests()


def test_the_images_of_a_whole_history_are_looked_up_in_one_query(alice_client, seeing, django_assert_num_queries):
    for text in ("one", "two", "three"):
        alice_client.post(reverse("chat:send", args=[seeing.pk]), {"text": text, "images": [upload()]})
    setting = ModelSetting.objects.get_or_create(name="gpt-4o", defaults={"capabilities": ["chat", "vision"]})[0]
    question = Message.objects.create(
        conversation=seeing, parent=seeing.messages.latest("pk"), role="user", content="?"
    )
    reply = Message.objects.create(conversation=seeing, parent=question, role="assistant", status="pending")
    history = threads.history(reply)
    with django_assert_num_queries(1):
        body, _dropped = payload.build_payload(seeing, history, setting)
    assert json.dumps(body).count("data:image/png;base64,") == 3
