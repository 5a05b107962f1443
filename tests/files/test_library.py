"""The media library: everything a user made or uploaded, in one place, theirs alone, in a bounded number of queries."""

import pytest
from django.urls import reverse

from chat.models import Conversation
from files import store
from files.models import StoredFile
from images.models import Generation
from tests.files.images import picture


def keep(owner, source, *, model="", prompt="", origin_id=None, name="a.png", colour=(1, 2, 3)):
    image = store.check_image(picture("PNG", colour=colour), name)
    return store.keep_image(owner.pk, image, name, source, model=model, prompt=prompt, origin_id=origin_id)


@pytest.fixture
def library(alice, bob):
    chat = Conversation.objects.create(owner=alice, model="gpt-4o", title="Holiday plans")
    run = Generation.objects.create(owner=alice, model="dall-e-3", prompt="a lighthouse at dusk", status="complete")
    return {
        "upload": keep(alice, "upload", name="screenshot.png", origin_id=chat.pk),
        "studio": keep(alice, "studio", model="dall-e-3", prompt="a lighthouse at dusk", origin_id=run.pk),
        "drawn": keep(alice, "chat", model="gpt-4o-image", prompt="a war cat", origin_id=chat.pk),
        "bobs": keep(bob, "studio", model="dall-e-3", prompt="bob's secret picture"),
        "chat": chat,
        "run": run,
    }


def test_it_shows_everything_of_the_owners_newest_first_with_where_it_came_from(alice_client, library):
    page = alice_client.get(reverse("files:library")).content.decode()
    order = [page.index(str(library[key].pk)) for key in ("drawn", "studio", "upload")]
    assert order == sorted(order)
    assert "bob&#x27;s secret picture" not in page and str(library["bobs"].pk) not in page
    assert f'href="{library["chat"].get_absolute_url()}"' in page and "Holiday plans" in page
    assert f'href="/studio/#g{library["run"].pk}"' in page
    assert 'loading="lazy"' in page


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"source": "studio"}, ["studio"]),
        ({"source": "upload"}, ["upload"]),
        ({"model": "gpt-4o-image"}, ["drawn"]),
        ({"q": "LIGHTHOUSE"}, ["studio"]),
        ({"q": "nothing like it"}, []),
    ],
)
def test_filters_by_source_model_and_prompt(alice_client, library, query, shown):
    page = alice_client.get(reverse("files:library"), query).content.decode()
    for key in ("upload", "studio", "drawn"):
        assert (f'id="f{library[key].pk}"' in page) == (key in shown), key


def test_a_page_of_the_library_costs_a_bounded_number_of_queries(alice, alice_client, django_assert_max_num_queries):
    chat = Conversation.objects.create(owner=alice, model="gpt-4o")
    first = keep(alice, "upload", origin_id=chat.pk)
    StoredFile.objects.bulk_create(
        StoredFile(
            owner=alice,
            source=source,
            name="x.png",
            content_type="image/png",
            size=1,
            width=1,
            height=1,
            blob=first.blob.name,
            thumbnail=first.thumbnail.name,
            origin_id=chat.pk,
            model="m",
            prompt=f"p{i}",
        )
        for i, source in enumerate(["upload", "chat", "studio"] * 100)
    )
    with django_assert_max_num_queries(9):
        response = alice_client.get(reverse("files:library"))
    assert response.status_code == 200
    assert response.content.decode().count('class="library-item"') == 60


def test_deleting_from_the_library_removes_the_file_and_only_for_its_owner(alice_client, bob_client, library):
    target = library["upload"]
    storage, name = target.blob.storage, target.blob.name
    assert bob_client.post(reverse("files:delete", args=[target.pk])).status_code == 404
    assert StoredFile.objects.filter(pk=target.pk).exists()
    response = alice_client.post(reverse("files:delete", args=[target.pk]))
    assert response.status_code == 302
    assert not StoredFile.objects.filter(pk=target.pk).exists()
    assert not storage.exists(name)


def test_a_deleted_picture_leaves_a_note_in_its_conversation_and_the_library_as_it_was(alice_client, alice, library):
    """The conversation showed a broken image, and the filters were dropped."""
    from chat.attachments import part_for
    from chat.models import Message

    chat, upload, drawn = library["chat"], library["upload"], library["drawn"]
    question = Message.objects.create(conversation=chat, role="user", content="What is this?", parts=[part_for(upload)])
    url = drawn.get_absolute_url()
    reply = Message.objects.create(
        conversation=chat,
        parent=question,
        role="assistant",
        content=f"Here it is.\n\n![a war cat]({url})\n\n[Download]({url})",
        status="complete",
    )
    chat.touch(current_leaf=reply)
    filtered = reverse("files:library") + "?source=chat&q=cat"
    for stored in (upload, drawn):
        response = alice_client.post(reverse("files:delete", args=[stored.pk]), {"next": filtered})
        assert response.status_code == 302 and response["Location"] == filtered
    assert alice_client.post(reverse("files:delete", args=[library["studio"].pk]), {"next": "https://evil.example/"})[
        "Location"
    ] == reverse("files:library")

    page = alice_client.get(chat.get_absolute_url()).content.decode()
    assert str(upload.pk) not in page and str(drawn.pk) not in page, "no link to a file that is gone"
    assert "“screenshot.png” was deleted." in page
    assert "(The picture “a war cat” was deleted.)" in page
    question.refresh_from_db()
    assert question.parts[0].get("deleted") and "file" not in question.parts[0]


def test_use_in_chat_puts_the_image_in_a_new_message(alice_client, alice, library, fake):
    studio_image = library["studio"]
    home = alice_client.get(reverse("chat:home"), {"attach": str(studio_image.pk)}).content.decode()
    assert f'name="attach" value="{studio_image.pk}" checked' in home
    assert (
        alice_client.get(reverse("chat:home"), {"attach": str(library["bobs"].pk)})
        .content.decode()
        .count('name="attach"')
        == 0
    )
    response = alice_client.post(
        reverse("chat:start"), {"text": "Describe it", "model": "gpt-4o", "attach": [str(studio_image.pk)]}
    )
    assert response.status_code == 302
    question = Conversation.objects.get(owner=alice, title="Describe it").messages.get(role="user")
    assert [part["file"] for part in question.parts] == [str(studio_image.pk)]
    sent = fake.chat_requests()[-1].body["messages"][-1]["content"]
    assert [part["type"] for part in sent] == ["text", "image_url"]


def test_someone_elses_image_cannot_be_attached(alice_client, library, fake):
    response = alice_client.post(
        reverse("chat:start"),
        {"text": "Mine now", "model": "gpt-4o", "attach": [str(library["bobs"].pk)]},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400 and "not found" in response.json()["error"]
    assert not fake.chat_requests()
