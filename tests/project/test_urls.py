"""
Every URL, classified and walked: strangers get 404, visitors the login page,
non-staff the admin login; state changes need the CSRF token; no key appears
in any page, header, log or error.
"""

import logging
import re
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from accounts.models import User
from aitre.models import Credential
from chat.models import Conversation
from tests.conftest import TEST_KEY
from tests.helpers import JSON, alices_state

# Anyone may open these. Midjourney's callback is the gateway's: an unguessable token per task, and only a hint.
# A share link's page: its unguessable token, and a 404 once revoked or expired.
PUBLIC = {"login", "logout", "signup", "set_language", "midjourney:hook", "sharing:shared"}


# A signed-in user's own pages, naming no object.
SIGNED_IN = {
    "chat:home",
    "chat:start",
    "chat:account",
    "usage:page",
    "password_change",
    "password_change_done",
    "files:library",
    "images:studio",
    "images:generate",
    "audio:page",
    "audio:transcribe",
    "audio:dictate",
    "audio:settings",
    "midjourney:page",
    "midjourney:imagine",
    "midjourney:blend",
    "midjourney:describe",
    "midjourney:shorten",
    "midjourney:lookup",
    "jobs:page",
    "jobs:events",
    "search:page",
    "search:suggest",
    "playground:page",
    "playground:start",
    "transfer:page",
    "transfer:export",
    "transfer:import",
    "sharing:links",
    "sharing:continue",
    "theme",
}


# Pages naming a conversation or a message: their owner's alone.
OWNED_CONVERSATION = {
    "chat:conversation",
    "chat:send",
    "chat:changes",
    "chat:settings",
    "chat:pin",
    "chat:delete",
    "transfer:markdown",
    "transfer:json",
    "sharing:share",
}


OWNED_MESSAGE = {
    "chat:stream",
    "chat:stop",
    "chat:regenerate",
    "chat:continue",
    "chat:edit",
    "chat:select",
    "audio:read",
}


# Files: their owner's alone; a visitor gets a stranger's 404, not a login page saying a file is there.
OWNED_FILE = {"files:serve", "files:thumbnail", "files:delete"}


# Pages naming a studio run: its owner's alone.
OWNED_GENERATION = {"images:follow", "images:retry", "images:delete"}


# Pages naming an audio file's transcription, or a reading of a reply: their owner's alone.
OWNED_TRANSCRIPTION = {"audio:transcript", "audio:follow", "audio:download", "audio:retry", "audio:delete"}
OWNED_READING = {"audio:piece"}


# Pages naming a Midjourney task: its owner's alone.
OWNED_MJ_TASK = {
    "midjourney:task",
    "midjourney:follow",
    "midjourney:press",
    "midjourney:modal",
    "midjourney:retry",
    "midjourney:split",
    "midjourney:delete",
}


# Search results name a passage, playground runs a run: their owner's alone.
OWNED_PASSAGE = {"search:open"}
OWNED_COMPLETION_RUN = {"playground:run", "playground:stop", "playground:rename", "playground:delete"}


# An account's export (its zip) and a share link's management: their owner's alone.
OWNED_EXPORT = {"transfer:download", "transfer:status", "transfer:delete"}
OWNED_IMPORT = {"transfer:import_status", "transfer:cancel_import"}
OWNED_SHARE = {"sharing:revoke"}


def every_url_pattern() -> list[tuple[str | None, str]]:
    def walk(patterns, prefix="", namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(part for part in (namespace, pattern.namespace) if part)
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            else:
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                yield name, prefix + str(pattern.pattern)

    return list(walk(get_resolver().url_patterns))


def is_admin(name: str | None, route: str) -> bool:
    return route.startswith("admin/")


def url_for(name: str | None, route: str, ids: dict[str, int]) -> str:
    """A concrete URL for a pattern, with the ids of objects Alice owns."""
    pk = ids["pk"]
    if "<uuid:pk>" in route and isinstance(pk, int):
        pk = uuid.UUID(int=pk)
    values = {
        "pk": str(pk),
        "id": str(ids["pk"]),
        "object_id": str(ids["pk"]),
        "app_label": "chat",
        "content_type_id": str(ContentType.objects.get_for_model(Conversation).pk),
        "url": "nowhere/",
        "index": "0",
        "token": "not-a-token",
    }
    keys = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)
    kwargs = {key: values[key] for pair in keys for key in pair if key}
    if name:
        return reverse(name, kwargs=kwargs)
    concrete = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    concrete = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], concrete)
    return "/" + concrete.strip("^$")


def test_every_url_is_classified():
    """A new URL must be put in one of the tables above, and so be tested by the walk below."""
    known = (
        PUBLIC
        | SIGNED_IN
        | OWNED_CONVERSATION
        | OWNED_MESSAGE
        | OWNED_FILE
        | OWNED_GENERATION
        | OWNED_TRANSCRIPTION
        | OWNED_READING
        | OWNED_MJ_TASK
        | OWNED_PASSAGE
        | OWNED_COMPLETION_RUN
        | OWNED_EXPORT
        | OWNED_IMPORT
        | OWNED_SHARE
    )
    unclassified = [
        (name, route) for name, route in every_url_pattern() if name not in known and not is_admin(name, route)
    ]
    assert unclassified == []


def test_objects_are_not_found_for_anyone_but_their_owner(owned, bob_client, fake):
    before = alices_state()
    checked = 0
    for name, route in every_url_pattern():
        if name not in OWNED_CONVERSATION | OWNED_MESSAGE:
            continue
        ids = {"pk": owned["conversation"] if name in OWNED_CONVERSATION else owned["message"]}
        url = url_for(name, route, ids)
        answers = [
            bob_client.get(url).status_code,
            bob_client.post(url, {"text": "Mine now", "title": "Stolen"}).status_code,
            bob_client.post(url, {"text": "Mine now"}, **JSON).status_code,
        ]
        assert set(answers) <= {404, 405} and 404 in answers, (url, answers)
        checked += 1
    assert checked == len(OWNED_CONVERSATION | OWNED_MESSAGE)
    assert alices_state() == before, "nothing changed"
    assert not fake.chat_requests()


def test_files_are_not_found_for_anyone_but_their_owner(alice, alice_client, bob_client, client):
    from files import store
    from files.models import StoredFile
    from tests.files.images import picture

    kept = store.keep_image(alice.pk, store.check_image(picture(), "mine.png"), "mine.png", StoredFile.Source.UPLOAD)
    checked = 0
    for name, _route in every_url_pattern():
        if name not in OWNED_FILE:
            continue
        url = reverse(name, args=[kept.pk])
        for stranger in (bob_client, client):
            answers = {stranger.get(url).status_code, stranger.post(url).status_code}
            assert answers <= {404, 405} and 404 in answers, (url, answers)
        checked += 1
    assert checked == len(OWNED_FILE)
    assert alice_client.get(kept.get_absolute_url()).status_code == 200
    assert StoredFile.objects.filter(pk=kept.pk).exists(), "nothing changed"


def test_studio_runs_are_not_found_for_anyone_but_their_owner(alice, bob_client, fake):
    from images.models import Generation

    run = Generation.objects.create(owner=alice, model="dall-e-3", prompt="Alice's secret picture", status="error")
    checked = 0
    for name, _route in every_url_pattern():
        if name not in OWNED_GENERATION:
            continue
        url = reverse(name, args=[run.pk])
        answers = {
            bob_client.get(url).status_code,
            bob_client.post(url).status_code,
            bob_client.post(url, **JSON).status_code,
        }
        assert answers <= {404, 405} and 404 in answers, (url, answers)
        checked += 1
    assert checked == len(OWNED_GENERATION)
    assert Generation.objects.filter(pk=run.pk, status="error").count() == 1
    assert not fake.state.requests


def test_transcriptions_and_readings_are_not_found_for_anyone_but_their_owner(alice, bob_client, owned, fake):
    from audio.models import Narration, Transcription

    job = Transcription.objects.create(owner=alice, name="secret.wav", model="whisper-1", status="complete")
    reading = Narration.objects.create(
        owner=alice, message_id=owned["message"], model="tts-1", voice="alloy", speed=1, pieces=["An answer."]
    )
    checked = 0
    for name, route in every_url_pattern():
        if name not in OWNED_TRANSCRIPTION | OWNED_READING:
            continue
        url = url_for(name, route, {"pk": job.pk if name in OWNED_TRANSCRIPTION else reading.pk})
        answers = {
            bob_client.get(url).status_code,
            bob_client.post(url).status_code,
            bob_client.post(url, **JSON).status_code,
        }
        assert answers <= {404, 405} and 404 in answers, (url, answers)
        checked += 1
    assert checked == len(OWNED_TRANSCRIPTION | OWNED_READING)
    assert Transcription.objects.filter(pk=job.pk, status="complete").count() == 1
    assert not fake.state.requests


def test_midjourney_tasks_are_not_found_for_anyone_but_their_owner(alice, bob_client, fake):
    from midjourney.models import MidjourneyTask

    task = MidjourneyTask.objects.create(
        owner=alice, action="imagine", prompt="Alice's secret", status="failure", upstream_id="1320098173412546"
    )
    checked = 0
    for name, _route in every_url_pattern():
        if name not in OWNED_MJ_TASK:
            continue
        url = reverse(name, args=[task.pk])
        answers = {
            bob_client.get(url).status_code,
            bob_client.post(url, {"custom_id": "x", "prompt": "mine"}).status_code,
            bob_client.post(url, **JSON).status_code,
        }
        assert answers <= {404, 405} and 404 in answers, (url, answers)
        checked += 1
    assert checked == len(OWNED_MJ_TASK)
    assert bob_client.get(reverse("midjourney:lookup"), {"id": task.upstream_id}).status_code == 404
    assert MidjourneyTask.objects.filter(pk=task.pk, status="failure").count() == 1
    # Nothing is asked of the gateway about the task; the page it answers with reads the model list.
    assert not [r for r in fake.state.requests if r.path != "/v1/models"]


def test_passages_and_completion_runs_are_not_found_for_anyone_but_their_owner(alice, bob_client, owned, fake):
    from playground.models import CompletionRun
    from search import indexing
    from search.models import Passage

    indexing.sweep_passages()
    passage = Passage.objects.filter(owner=alice).first()
    run = CompletionRun.objects.create(
        owner=alice, model="gpt-3.5-turbo-instruct", prompt="Alice's secret", status="complete"
    )
    checked = 0
    for name, route in every_url_pattern():
        if name not in OWNED_PASSAGE | OWNED_COMPLETION_RUN:
            continue
        url = url_for(name, route, {"pk": passage.pk if name in OWNED_PASSAGE else run.pk})
        answers = {
            bob_client.get(url).status_code,
            bob_client.post(url, {"title": "Stolen"}).status_code,
            bob_client.post(url, **JSON).status_code,
        }
        assert answers <= {404, 405} and 404 in answers, (url, answers)
        checked += 1
    assert checked == len(OWNED_PASSAGE | OWNED_COMPLETION_RUN)
    assert CompletionRun.objects.filter(pk=run.pk, title="", cancel_requested=False).count() == 1
    assert not fake.state.requests


def test_exports_imports_and_share_links_are_not_found_for_anyone_but_their_owner(alice, bob_client, conversation):
    from sharing.models import ShareLink
    from transfer.models import Export, Import

    export = Export.objects.create(owner=alice, status=Export.Status.READY)
    record = Import.objects.create(owner=alice, name="mine.json", source="chatgpt")
    link = ShareLink.objects.create(owner=alice, conversation=conversation, title="Alice's", model="m")
    owned = {**dict.fromkeys(OWNED_EXPORT, export.pk), **dict.fromkeys(OWNED_IMPORT, record.pk)}
    checked = 0
    for name, route in every_url_pattern():
        if name not in OWNED_EXPORT | OWNED_IMPORT | OWNED_SHARE:
            continue
        url = url_for(name, route, {"pk": owned.get(name, link.pk)})
        answers = {bob_client.get(url).status_code, bob_client.post(url).status_code}
        assert answers <= {404, 405} and 404 in answers, (url, answers)
        checked += 1
    assert checked == len(OWNED_EXPORT | OWNED_IMPORT | OWNED_SHARE)
    assert Export.objects.filter(pk=export.pk).exists()
    assert ShareLink.objects.get(pk=link.pk).revoked_at is None


def test_anonymous_visitors_are_sent_to_log_in(owned, client):
    for name, route in every_url_pattern():
        if name not in SIGNED_IN | OWNED_CONVERSATION | OWNED_MESSAGE:
            continue
        pk = owned["conversation"] if name in OWNED_CONVERSATION else owned["message"]
        url = url_for(name, route, {"pk": pk})
        for response in (client.get(url), client.post(url, {"text": "x"})):
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/?next="), url


def test_admin_pages_refuse_everyone_but_staff(owned, alice_client, client):
    admin_urls = [
        url_for(name, route, {"pk": owned["conversation"]})
        for name, route in every_url_pattern()
        if is_admin(name, route) and name not in ("admin:login", "admin:logout")
    ]
    assert len(admin_urls) > 50
    for url in admin_urls:
        for visitor in (client, alice_client):
            response = visitor.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
            assert "Alice&#x27;s secret question" not in response.content.decode()


def test_state_changes_need_the_csrf_token(alice, conversation, fake):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    for url in [
        reverse("chat:send", args=[conversation.pk]),
        reverse("chat:start"),
        reverse("chat:settings", args=[conversation.pk]),
        reverse("chat:delete", args=[conversation.pk]),
    ]:
        response = client.post(url, {"text": "hi", "model": "gpt-4o-mini"}, HTTP_ACCEPT="text/event-stream")
        assert response.status_code == 403, url
    assert not fake.chat_requests()
    assert Conversation.objects.filter(pk=conversation.pk).exists()


PERSONAL_KEY = "sk-personal-SECRET-9876-abcdef"


@pytest.mark.urls("tests.probe_urls")
def test_no_key_appears_in_any_page_header_log_or_error(owned, alice, fake, caplog, settings):
    caplog.set_level(logging.DEBUG)
    site = Credential(name="site")
    site.set_key(TEST_KEY)
    site.save()
    personal = Credential(user=alice, name="personal")
    personal.set_key(PERSONAL_KEY)
    personal.save()
    root = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    root.user_permissions.add(Permission.objects.get(codename="read_message_content"))
    as_alice, as_root = Client(raise_request_exception=False), Client(raise_request_exception=False)
    as_alice.force_login(alice)
    as_root.force_login(root)
    bodies: list[str] = []
    from files import store
    from files.models import StoredFile
    from tests.files.images import picture

    image = store.keep_image(alice.pk, store.check_image(picture(), "a.png"), "a.png", StoredFile.Source.UPLOAD)

    def keep(response) -> None:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        bodies.append(content.decode(errors="replace") + repr(response.headers) + repr(response.cookies))

    # A failure whose upstream message echoes the key back, and the pages after it.
    fake.script("echo-key")
    keep(as_alice.post(reverse("chat:send", args=[owned["conversation"]]), {"text": "Hi"}))
    visited = 0
    for name, route in every_url_pattern():
        if name in ("logout", "admin:logout"):
            continue
        if is_admin(name, route):
            visitor, pk = as_root, owned["conversation"]
        elif name in OWNED_FILE:
            visitor, pk = as_alice, image.pk
        else:
            visitor, pk = as_alice, owned["message"] if name in OWNED_MESSAGE else owned["conversation"]
        keep(visitor.get(url_for(name, route, {"pk": pk})))
        visited += 1
    for model in ("aitre/credential", "chat/conversation", "usage/usagerecord", "chat/contentaccess"):
        for obj_id in (site.pk, personal.pk, owned["conversation"]):
            keep(as_root.get(f"/admin/{model}/{obj_id}/change/"))
    assert as_root.get(f"/admin/aitre/credential/{site.pk}/change/").status_code == 200
    server_error = as_alice.get("/__probe__/500")
    assert server_error.status_code == 500
    keep(server_error)

    assert visited > 60
    everything = "\n".join(bodies) + "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    for secret in (TEST_KEY, PERSONAL_KEY, TEST_KEY[-12:], PERSONAL_KEY[-12:]):
        assert secret not in everything
    assert PERSONAL_KEY[-4:] in everything, "the masked form is shown, so the test did look at the key pages"
