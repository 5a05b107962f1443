"""
One conversation out (Markdown, JSON), and conversations in (our JSON,
ChatGPT's): bounded, checked, all or nothing.
"""

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from chat.models import Conversation, Message
from tests.helpers import branched_conversation, run_jobs, tree_shape
from tests.transfer import chatgpt
from transfer import chatgpt as chatgpt_format
from transfer import plans, reading, writing
from transfer.models import Import
from usage.models import UsageRecord
from usage.quotas import status_for


def upload(data, name="conversations.json") -> SimpleUploadedFile:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return SimpleUploadedFile(name, raw, content_type="application/json")


def post_import(client, data, name="conversations.json"):
    return client.post("/transfer/import", {"file": upload(data, name)})


def imported(client, data, name="conversations.json") -> Import:
    """Checked in the request, written by the worker: the import as it ended."""
    response = post_import(client, data, name)
    assert response.status_code == 302, response.content.decode()
    run_jobs()
    return Import.objects.latest("created_at")


def test_markdown_has_the_versions_on_show(alice, alice_client, bob_client):
    conversation = branched_conversation(alice)
    question = conversation.messages.get(content="And at dusk?")
    question.parts = [{"file": "0123abcd-0000-4000-8000-000000000000", "name": "dusk.png", "width": 4, "height": 3}]
    question.save()
    response = alice_client.get(f"/c/{conversation.pk}/export.md")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="Paint.md"'
    text = response.content.decode()
    assert text.startswith("# Paint\n")
    assert "> Answer as a painter." in text
    shown = ["Which blue is the sky?", "Sky blue: **cerulean** at noon.", "And at dusk?", "Ultramarine, then indigo."]
    positions = [text.index(part) for part in shown]
    assert positions == sorted(positions)
    assert "Cerulean, mostly." not in text and "Viridian" not in text, "only the versions on show"
    assert "![dusk.png](files/0123abcd-0000-4000-8000-000000000000)" in text, "a picture no longer kept is still named"
    assert "## gpt-4o" in text and "## You" in text
    assert bob_client.get(f"/c/{conversation.pk}/export.md").status_code == 404


def test_json_has_every_version_with_models_times_and_usage(alice, alice_client):
    conversation = branched_conversation(alice)
    response = alice_client.get(f"/c/{conversation.pk}/export.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="Paint.json"'
    document = json.loads(response.content)
    assert (document["schema"], document["version"]) == ("aitre-web/conversation", 1)
    assert len(document["messages"]) == 7
    by_id = {m["id"]: m for m in document["messages"]}
    reply = next(m for m in document["messages"] if m["content"].startswith("Sky blue"))
    assert reply["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12, "estimated": False}
    assert reply["timing"] == {"ttft_ms": 120, "duration_ms": 900}
    assert reply["model"] == "gpt-4o"
    assert datetime.fromisoformat(reply["created_at"]).tzinfo is not None
    assert by_id[reply["parent"]]["content"] == "Which blue is the sky?"
    assert by_id[document["current"]]["content"] == "Ultramarine, then indigo."
    assert str(conversation.pk) not in [m["id"] for m in document["messages"]], "the file's own ids"


def test_export_delete_import_gives_the_same_tree(alice, alice_client):
    conversation = branched_conversation(alice)
    before = tree_shape(conversation)
    exported = alice_client.get(f"/c/{conversation.pk}/export.json").content
    conversation.delete()
    record = imported(alice_client, exported, "Paint.json")
    assert (record.status, record.source, record.conversations, record.messages) == ("done", "aitre-web", 1, 7)
    assert not record.upload, "the file is not kept once written"
    copy = Conversation.objects.get(owner=alice)
    assert tree_shape(copy) == before
    # The thread on show is the one exported, with its version arrows.
    page = alice_client.get(copy.get_absolute_url()).content.decode()
    assert "Ultramarine, then indigo." in page and "2 / 2" in page


def test_chatgpt_history_comes_in_with_branches_as_versions(alice, alice_client):
    response = post_import(alice_client, chatgpt.export())
    assert response.status_code == 302
    assert "“conversations.json” is being imported" in alice_client.get("/transfer/").content.decode()
    assert not Conversation.objects.exists(), "written by the worker"
    run_jobs()
    page = alice_client.get("/transfer/").content.decode()
    assert "Imported 2 conversations (10 messages)." in page
    assert "system messages: 1" in page and "tool messages: 1" in page

    arithmetic = Conversation.objects.get(owner=alice, title="Arithmetic")
    messages = {m.content: m for m in arithmetic.messages.all()}
    first, edited = messages["What is 2+2?"], messages["What is 3+3?"]
    assert first.parent is None and edited.parent is None, "an edited question is a version of the first"
    replies = list(first.children.order_by("pk").values_list("content", "model"))
    assert replies == [("It is 4.", "gpt-4"), ("Four, of course.", "gpt-4o")], "a regenerated reply is a version"
    # The tool call between two replies is skipped; what followed it hangs from the reply before.
    assert messages["It is 4, say the sources."].parent == messages["Searching."]
    # The picture was in ChatGPT's zip, not in conversations.json: its message says so.
    looked = next(m for m in messages.values() if m.content.startswith("Look it up"))
    assert (
        "\n\n[A picture could not be imported: file-Sky1: it is in the export's zip: import the zip to bring it in]"
        in looked.content
    )
    assert messages["Searching."].parent == looked
    assert arithmetic.current_leaf == messages["It is 4, say the sources."]
    assert arithmetic.model == "gpt-4o"
    assert first.created_at == datetime.fromtimestamp(chatgpt.T0 + 1, tz=UTC)
    assert arithmetic.created_at == datetime.fromtimestamp(chatgpt.T0, tz=UTC)
    assert messages["It is 4."].finish_reason == "stop"
    assert messages["It is 4."].rendered.startswith("<p>It is 4.</p>")

    untitled = Conversation.objects.get(owner=alice, title="你好")
    assert list(untitled.messages.values_list("content", flat=True)) == ["你好", "你好！有什么可以帮你？"]


def test_imported_usage_is_not_billed_or_counted(alice, alice_client, settings):
    settings.SEARCH_EMBED = False  # embedding the history for search is billed, as any embedding is
    conversation = branched_conversation(alice)
    exported = alice_client.get(f"/c/{conversation.pk}/export.json").content
    used_before = status_for(alice).used
    assert imported(alice_client, json.loads(exported)).status == "done"
    assert Message.objects.filter(conversation__owner=alice, total_tokens=12).count() == 2
    assert not UsageRecord.objects.exists()
    assert status_for(alice).used == used_before


def test_imported_messages_are_found_by_words_and_meaning_when_the_import_ends(alice, alice_client, fake):
    from search import indexing
    from search.models import Passage

    imported(alice_client, chatgpt.export())
    assert indexing.sweep_passages(since=indexing.SWEEP_WINDOW) == 0, "indexed by the import, not by a sweep"
    assert Passage.objects.filter(owner=alice, kind="message").count() == 10
    assert "Arithmetic" in alice_client.get("/search/", {"q": "sources", "mode": "words"}).content.decode()
    # The import queued their embedding; the worker's run above did it.
    assert not Passage.objects.filter(owner=alice, embedded_at__isnull=True).exists()


def bad_files():
    ours = {"schema": "aitre-web/conversation", "version": 1, "title": "T", "model": "m", "messages": []}
    orphan = dict(ours, messages=[{"id": "m1", "parent": "m0", "role": "user", "content": "hi"}])
    wrong_role = dict(ours, messages=[{"id": "m1", "parent": None, "role": "system", "content": "hi"}])
    return [
        (b'{"schema": "aitre-web/conversation",\n "version": 1,,}', "line 2, column 15"),
        (b"\xff\xfe\x00", "not text"),
        (json.dumps({"hello": "world"}).encode(), "neither an export of this site"),
        (json.dumps(dict(ours, version=7)).encode(), "schema version is 7; this site reads version 1"),
        (json.dumps(orphan).encode(), "Conversation 1 (“T”), message m1: its parent m0 is not before it"),
        (json.dumps(wrong_role).encode(), "“role” must be “user” or “assistant”"),
        (
            json.dumps([{"title": "X", "mapping": {"a": {"parent": "b"}, "b": {"parent": "a"}}}]).encode(),
            "no root node",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ]


@pytest.mark.parametrize(("raw", "said"), bad_files())
def test_a_file_with_nothing_importable_changes_nothing_and_says_what_was_wrong(alice, alice_client, raw, said):
    """The request only stores it (reading it is the worker's); the import then fails, saying why, on the page."""
    branched_conversation(alice)
    before = (Conversation.objects.count(), Message.objects.count())
    record = imported(alice_client, raw)
    assert record.status == "failed" and not record.upload
    page = alice_client.get("/transfer/").content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert "Failed, nothing was imported:" in page and said in page
    assert (Conversation.objects.count(), Message.objects.count()) == before


def test_junk_and_broken_conversations_are_left_out_and_named_the_rest_comes_in(alice, alice_client):
    """A few bad entries used to refuse the whole file, with the wrong reason; NUL failed it in the database."""
    good = chatgpt.export()
    good[0]["title"] = "Arith\x00metic"
    good[0]["mapping"]["a1"]["message"]["content"]["parts"] = ["It is 4.\x00 \ud800 Really."]
    broken = {"title": "Loop", "mapping": {"a": {"parent": "b"}, "b": {"parent": "a"}}, "id": "c3"}
    data = [good[0], 42, {"title": "No mapping"}, broken, good[1]]
    record = imported(alice_client, data)
    assert (record.status, record.conversations) == ("done", 2)
    page = alice_client.get("/transfer/").content.decode().replace("&quot;", '"')
    assert "Imported 2 conversations (10 messages)." in page
    assert "Left out: Conversation 2: not a ChatGPT conversation (it has no “mapping”)." in page
    assert "Left out: Conversation 3 (“No mapping”): not a ChatGPT conversation" in page
    assert "Left out: Conversation 4 (“Loop”): its “mapping” has no root node." in page
    assert "Conversation 1 (“Arithmetic”): 3 characters no database can store were replaced by “\ufffd”." in page
    reply = Message.objects.get(content__startswith="It is 4.")
    assert reply.content == "It is 4.\ufffd \ufffd Really."
    assert Conversation.objects.get(owner=alice, import_key="chatgpt:c1").title == "Arith\ufffdmetic"


def test_our_export_with_one_broken_conversation_brings_in_the_others(alice, alice_client):
    ours = {"schema": "aitre-web/conversation", "version": 1, "title": "T", "model": "m", "messages": []}
    many = {
        "schema": "aitre-web/export",
        "version": 1,
        "conversations": [ours, dict(ours, title="Second", current="m9")],
    }
    record = imported(alice_client, many)
    assert (record.status, record.conversations) == ("done", 1)
    assert record.notes == ["Left out: Conversation 2 (“Second”): “current” names a message that is not in it."]


def test_importing_the_same_file_again_skips_what_came_in_before(alice, alice_client):
    assert imported(alice_client, chatgpt.export()).conversations == 2
    again = imported(alice_client, chatgpt.export())
    assert (again.status, again.conversations, again.messages) == ("done", 0, 0)
    assert again.skipped["conversations imported before"] == 2
    assert "conversations imported before: 2" in alice_client.get("/transfer/").content.decode()
    assert Conversation.objects.filter(owner=alice).count() == 2
    # Our own export of them carries the key on: imported again, still recognised.
    arithmetic = Conversation.objects.get(owner=alice, title="Arithmetic")
    exported = json.loads(alice_client.get(f"/c/{arithmetic.pk}/export.json").content)
    assert exported["key"] == "chatgpt:c1"
    assert imported(alice_client, exported).skipped == {"conversations imported before": 1}


def test_imports_are_bounded(alice, alice_client, settings, monkeypatch):
    monkeypatch.setattr(plans, "MAX_CONVERSATIONS", 1)
    record = imported(alice_client, chatgpt.export())
    assert record.status == "failed"
    assert record.error == "The file holds 2 conversations; an import takes at most 1."
    settings.IMPORT_MAX_MB = 0
    response = post_import(alice_client, chatgpt.export())
    assert response.status_code == 400
    assert "an import takes files of at most 0 MB" in response.content.decode()
    assert not Conversation.objects.exists()


@translation.override("en")
def test_size_messages_say_what_is_measured(settings):
    settings.IMPORT_MAX_MB = 50
    assert str(reading.too_large(50 * 1024 * 1024 + 40_000)) == (
        "The file is 50.04 MB; an import takes files of at most 50 MB."
    )
    said = str(reading.unpacks_too_large(1024 * 1024 * 1024))
    assert said.startswith("The zip's conversations.json unpacks to 1024 MB; an import reads at most 50 MB")
    assert "the zip itself may be smaller" in said


def test_a_failure_half_way_writes_nothing(alice, alice_client, monkeypatch):
    real = writing.render_markdown
    calls = []

    def failing(text: str) -> str:
        calls.append(text)
        if len(calls) == 5:
            raise RuntimeError("the disk is full")
        return real(text)

    monkeypatch.setattr(writing, "render_markdown", failing)
    with pytest.raises(RuntimeError):
        writing.save(alice, chatgpt_format.plan(chatgpt.export(), {}).conversations)
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_a_failure_in_the_worker_writes_nothing_and_says_so(alice, alice_client, monkeypatch):
    def full(text: str) -> str:
        raise OSError("No space left on device")

    monkeypatch.setattr(writing, "render_markdown", full)
    record = imported(alice_client, chatgpt.export())
    assert record.status == "failed" and not record.upload
    assert not Conversation.objects.exists() and not Message.objects.exists()
    page = alice_client.get("/transfer/").content.decode()
    assert "Failed, nothing was imported: No space left on device" in page


def test_an_import_whose_worker_died_is_settled_by_the_sweep(alice, alice_client):
    from datetime import timedelta

    from django.utils import timezone

    from transfer import archive

    assert post_import(alice_client, chatgpt.export()).status_code == 302
    record = Import.objects.get()
    Import.objects.update(status="importing")
    assert Import.objects.settle_stale() == 0, "a running import is left alone"
    Import.objects.update(created_at=timezone.now() - Import.STALE_AFTER - timedelta(minutes=1))
    archive.prune()
    record.refresh_from_db()
    assert record.status == "failed" and "interrupted" in record.error and not record.upload


def test_an_import_without_a_file_is_a_400(alice_client):
    response = alice_client.post("/transfer/import", {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_chatgpts_zip_is_taken_as_downloaded(alice, alice_client):
    archive = zip_of({"conversations.json": json.dumps(chatgpt.export()).encode(), "chat.html": b"<html>"})
    record = imported(alice_client, archive, "export.zip")
    assert (record.name, record.status) == ("export.zip", "done")
    assert Conversation.objects.filter(owner=alice).count() == 2


@pytest.mark.parametrize(
    ("archive", "said"),
    [
        (zip_of({"chat.html": b"<html>"}), "The zip has no conversations.json at its top."),
        (
            zip_of({"conversations.json": b"[" + b" " * 3_000_000 + b"]"}),
            "unpacks to 2.86 MB; an import reads at most 2 MB",
        ),
        (b"PK\x03\x04 not really a zip", "The zip is damaged."),
    ],
)
def test_a_bad_zip_or_a_bomb_changes_nothing(alice, alice_client, settings, archive, said):
    settings.IMPORT_MAX_MB = 2
    response = alice_client.post("/transfer/import", {"file": upload(archive, "export.zip")})
    assert response.status_code == 400
    assert said in response.content.decode()
    assert not Conversation.objects.exists()


def test_a_body_over_the_import_limit_is_refused_before_it_is_read(alice, alice_client, settings):
    settings.IMPORT_MAX_MB = 0
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = alice_client.post("/transfer/import", {"file": upload(b" " * 5000)})
    assert response.status_code == 413
    assert "an import takes at most 0 MB" in response.content.decode()
    # Elsewhere the usual limits hold: a 5 kB import is not refused as too many images.
    settings.IMPORT_MAX_MB = 1
    assert imported(alice_client, chatgpt.export()).status == "done"


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
@pytest.mark.parametrize("encoded", ["multipart", "urlencoded"])
def test_a_large_form_body_to_the_import_url_is_a_clear_413(alice, alice_client, settings, caplog, accept, encoded):
    """A 10 MB form (not a file) to the import URL got a bare 'Bad Request (400)' and a traceback."""
    import logging
    from urllib.parse import urlencode

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    caplog.set_level(logging.INFO)
    fields = {"file": "x" * 5000}
    if encoded == "multipart":
        response = alice_client.post("/transfer/import", fields, HTTP_ACCEPT=accept)
    else:
        response = alice_client.post(
            "/transfer/import", urlencode(fields), "application/x-www-form-urlencoded", HTTP_ACCEPT=accept
        )
    assert response.status_code == 413
    said = response.json()["error"] if accept == "application/json" else response.content.decode()
    assert "at most 1000" in said and "a message may have" not in said
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not Conversation.objects.exists()
