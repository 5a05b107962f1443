"""
Imports bring everything back: this site's zip with its pictures, recordings,
transcripts and settings; ChatGPT's zip with its pictures and the code the
model ran. And the import's own life: cancelled, settled when its worker
died, said to be waiting when no worker runs.
"""

import io
import json
import zipfile
from datetime import timedelta

from django.utils import timezone

from audio.models import Transcription, VoicePreference
from chat.models import Conversation, Message
from files import store
from files.audio import check as check_audio
from files.models import StoredFile
from jobs.models import WorkerPresence
from tests.files.images import picture
from tests.files.test_audio import tone
from tests.helpers import branched_conversation, run_jobs, tree_shape
from tests.transfer import chatgpt
from tests.transfer.test_conversations import imported, post_import, zip_of
from transfer import importing
from transfer.models import Export, Import


def exported_zip(client) -> bytes:
    client.post("/transfer/export")
    run_jobs()
    export = Export.objects.latest("created_at")
    response = client.get(f"/transfer/exports/{export.pk}")
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_export_delete_import_gives_back_the_account_files_included(alice, alice_client):
    conversation = branched_conversation(alice)
    sky = store.keep_image(alice.pk, store.check_image(picture(), "sky.png"), "sky.png", StoredFile.Source.UPLOAD)
    drawn = store.keep_image(
        alice.pk,
        store.check_image(picture(colour=(0, 90, 200)), "gpt-image"),
        "gpt-4o-image",
        StoredFile.Source.CHAT,
        model="gpt-4o-image",
        prompt="a blue square",
    )
    store.keep_image(
        alice.pk, store.check_image(picture(colour=(0, 200, 0)), "s.png"), "dall-e-3", StoredFile.Source.STUDIO
    )
    memo = store.keep_audio(
        alice.pk,
        check_audio(tone("WAV", "PCM_16", 8000), "memo.wav", max_bytes=10**7),
        "memo.wav",
        StoredFile.Source.UPLOAD,
    )
    question = conversation.messages.get(content="And at dusk?")
    question.parts = [{"file": str(sky.pk), "name": "sky.png", "width": 120, "height": 80}]
    question.save()
    reply = conversation.messages.get(content="Ultramarine, then indigo.")
    reply.content = f"Ultramarine, then indigo.\n\n![blue]({drawn.get_absolute_url()})"
    reply.save()
    Transcription.objects.create(
        owner=alice,
        audio=memo,
        name="memo.wav",
        model="whisper-1",
        status="complete",
        text="Buy blue paint.",
        segments=[{"start": 0.0, "end": 1.0, "text": "Buy blue paint."}],
        duration=1.0,
    )
    VoicePreference.objects.create(user=alice, voice="nova")
    before = tree_shape(conversation)
    library = sorted(
        (f.kind, f.source, f.name, f.read()[:0] or f.size > 0) for f in StoredFile.objects.filter(owner=alice)
    )

    archive = exported_zip(alice_client)
    # Everything goes: the conversation, the files, the transcript, the settings.
    Conversation.objects.filter(owner=alice).delete()
    for stored in StoredFile.objects.filter(owner=alice):
        stored.delete_with_blobs()
    Transcription.objects.all().delete()
    VoicePreference.objects.all().delete()

    record = imported(alice_client, archive, "aitre-export.zip")
    assert (record.status, record.conversations, record.files) == ("done", 1, 4), record.error
    assert not record.notes
    copy = Conversation.objects.get(owner=alice)
    restored_reply = copy.messages.get(content__startswith="Ultramarine")
    kept_drawn = StoredFile.objects.get(owner=alice, name="gpt-4o-image")
    # The reply's picture points at the restored copy, which the library shows under its conversation.
    assert kept_drawn.get_absolute_url() in restored_reply.content and str(drawn.pk) not in restored_reply.content
    assert kept_drawn.origin_id == copy.pk and kept_drawn.prompt == "a blue square"
    restored_reply.content = restored_reply.content.replace(kept_drawn.get_absolute_url(), drawn.get_absolute_url())
    restored_reply.save()
    assert tree_shape(copy) == before
    [part] = copy.messages.get(content="And at dusk?").parts
    assert StoredFile.objects.get(pk=part["file"], owner=alice).name == "sky.png"
    after = sorted(
        (f.kind, f.source, f.name, f.read()[:0] or f.size > 0) for f in StoredFile.objects.filter(owner=alice)
    )
    assert after == library
    transcript = Transcription.objects.get(owner=alice)
    assert (transcript.text, transcript.audio.name, transcript.segments[0]["text"]) == (
        "Buy blue paint.",
        "memo.wav",
        "Buy blue paint.",
    )
    assert VoicePreference.objects.get(user=alice).voice == "nova"
    page = alice_client.get(copy.get_absolute_url()).content.decode()
    assert f'src="{kept_drawn.get_absolute_url()}"' in page
    assert alice_client.get(f"/files/{part['file']}").status_code == 200

    # The same zip again: nothing doubled, files included.
    again = imported(alice_client, archive, "aitre-export.zip")
    assert (again.status, again.conversations, again.files) == ("done", 0, 0)
    assert StoredFile.objects.filter(owner=alice).count() == 4
    assert Transcription.objects.filter(owner=alice).count() == 1


def chatgpt_zip(*, with_missing: bool = True) -> bytes:
    """ChatGPT's zip as it comes: conversations.json, the user's picture, a DALL·E picture, code it ran."""
    mapping = {
        "root": chatgpt.node("root", None, ["u1"], None),
        "u1": chatgpt.node(
            "u1",
            "root",
            ["code"],
            chatgpt.message(
                "u1",
                "user",
                [
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": "file-service://file-Photo1",
                        "width": 120,
                        "height": 80,
                    },
                    *(
                        [{"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Gone9"}]
                        if with_missing
                        else []
                    ),
                    "Plot this and draw a cat.",
                ],
                1,
                kind="multimodal_text",
            ),
        ),
        "code": chatgpt.node(
            "code",
            "u1",
            ["out"],
            {
                **chatgpt.message("code", "assistant", [], 2, model="gpt-4o"),
                "content": {"content_type": "code", "language": "python", "text": "print(6 * 7)"},
                "recipient": "python",
            },
        ),
        "out": chatgpt.node(
            "out",
            "code",
            ["dalle"],
            {
                **chatgpt.message("out", "tool", [], 3),
                "content": {"content_type": "execution_output", "text": "42"},
            },
        ),
        "dalle": chatgpt.node(
            "dalle",
            "out",
            ["a1"],
            chatgpt.message(
                "dalle",
                "tool",
                [
                    {
                        "content_type": "image_asset_pointer",
                        "asset_pointer": "sediment://file_00000000cat",
                        "width": 64,
                        "height": 64,
                    }
                ],
                4,
                kind="multimodal_text",
            ),
        ),
        "a1": chatgpt.node(
            "a1", "dalle", [], chatgpt.message("a1", "assistant", ["Here is 42, and a cat."], 5, model="gpt-4o")
        ),
    }
    conversation = {
        "title": "Plots",
        "create_time": chatgpt.T0,
        "update_time": chatgpt.T0 + 5,
        "mapping": mapping,
        "current_node": "a1",
        "conversation_id": "c-plots",
    }
    return zip_of(
        {
            "conversations.json": json.dumps([conversation]).encode(),
            "file-Photo1-IMG_0001.png": picture(),
            "dalle-generations/file_00000000cat-7f1e.webp": picture("WEBP", (64, 64), (10, 10, 10)),
            "chat.html": b"<html>",
        }
    )


def test_chatgpts_zip_brings_its_pictures_and_the_code_the_model_ran(alice, alice_client):
    record = imported(alice_client, chatgpt_zip(), "chatgpt-export.zip")
    assert (record.status, record.source, record.files) == ("done", "chatgpt", 2), record.error
    conversation = Conversation.objects.get(owner=alice, import_key="chatgpt:c-plots")
    question = conversation.messages.get(role="user")
    [part] = question.parts
    photo = StoredFile.objects.get(pk=part["file"], owner=alice)
    assert (photo.name, photo.source, photo.width) == ("file-Photo1-IMG_0001.png", "upload", 120)
    # The picture that was not in the zip is said in its message.
    assert question.content.endswith("\n\n[A picture could not be imported: file-Gone9: it is not in the zip]")
    replies = list(conversation.messages.filter(role="assistant").order_by("created_at"))
    code, drawn, answer = replies
    assert code.content == "```python\nprint(6 * 7)\n```\n\nOutput:\n\n```\n42\n```"
    assert "<code" in code.rendered
    cat = StoredFile.objects.get(owner=alice, import_key="chatgpt:file_00000000cat")
    assert drawn.content == f"![file_00000000cat-7f1e.webp]({cat.get_absolute_url()})"
    assert answer.content == "Here is 42, and a cat." and answer.parent == drawn
    page = alice_client.get(conversation.get_absolute_url()).content.decode()
    assert f'src="{cat.get_absolute_url()}"' in page
    # Again: the conversation is recognised, and no picture is kept twice.
    again = imported(alice_client, chatgpt_zip(), "chatgpt-export.zip")
    assert (again.conversations, again.files) == (0, 0)
    assert StoredFile.objects.filter(owner=alice).count() == 2


def test_a_conversation_with_pictures_downloads_as_markdown_with_its_pictures(alice, alice_client):
    imported(alice_client, chatgpt_zip(with_missing=False), "chatgpt-export.zip")
    conversation = Conversation.objects.get(owner=alice)
    response = alice_client.get(f"/c/{conversation.pk}/export.md")
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="Plots.zip"'
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    text = bundle.read("Plots.md").decode()
    for stored in StoredFile.objects.filter(owner=alice):
        path = f"files/{stored.pk}.{stored.blob.name.rsplit('.', 1)[-1]}"
        assert f"]({path})" in text, "every picture links into the zip"
        assert bundle.read(path) == stored.read()


def test_a_queued_import_can_be_cancelled_and_keeps_nothing(alice, alice_client):
    assert post_import(alice_client, chatgpt.export()).status_code == 302
    record = Import.objects.get()
    assert record.upload
    response = alice_client.post(f"/transfer/imports/{record.pk}/cancel")
    assert response.status_code == 302
    run_jobs()
    record.refresh_from_db()
    assert record.status == "cancelled" and not record.upload
    assert not Conversation.objects.exists()
    assert "Cancelled: nothing was imported." in alice_client.get("/transfer/").content.decode()
    assert alice_client.post(f"/transfer/imports/{record.pk}/cancel").status_code == 302


def test_an_import_cancelled_while_it_runs_is_undone_files_and_all(alice, alice_client, monkeypatch):
    real = importing.restore_pictures

    def cancelled_meanwhile(*args):
        real(*args)
        assert StoredFile.objects.count() == 2
        Import.objects.get().cancel()  # the person pressed Cancel while the worker kept the pictures

    monkeypatch.setattr(importing, "restore_pictures", cancelled_meanwhile)
    record = imported(alice_client, chatgpt_zip(), "chatgpt-export.zip")
    assert record.status == "cancelled" and not record.upload
    assert not Conversation.objects.exists() and not StoredFile.objects.exists()


def test_a_stranger_cannot_cancel_an_import(alice_client, bob_client):
    post_import(alice_client, chatgpt.export())
    record = Import.objects.get()
    assert bob_client.post(f"/transfer/imports/{record.pk}/cancel").status_code == 404
    assert Import.objects.get().status == "queued"


def test_an_import_whose_worker_died_is_settled_within_minutes(alice, alice_client):
    from transfer import archive

    post_import(alice_client, chatgpt.export())
    record = Import.objects.get()
    assert record.claim()
    archive.prune()
    assert Import.objects.get().status == "importing", "its worker marks it alive"
    Import.objects.update(heartbeat_at=timezone.now() - Import.STALE_AFTER - timedelta(seconds=1))
    archive.prune()
    record.refresh_from_db()
    assert record.status == "failed" and "its worker stopped" in record.error and not record.upload
    assert timedelta(minutes=5) >= Import.STALE_AFTER


def test_the_page_says_when_no_worker_is_there_to_take_an_import(alice, alice_client):
    post_import(alice_client, chatgpt.export())
    record = Import.objects.get()
    status = f"/transfer/imports/{record.pk}/status"
    assert alice_client.get(status).json() == {"status": "queued", "pending": True, "waiting": False, "written": 0}
    Import.objects.update(created_at=timezone.now() - Import.UNCLAIMED_AFTER - timedelta(seconds=1))
    assert alice_client.get(status).json()["waiting"] is True
    page = alice_client.get("/transfer/").content.decode()
    assert "No worker is running, so nothing has picked this import up yet." in page
    WorkerPresence.objects.create(name="here:1:imports", queues="imports")
    assert alice_client.get(status).json()["waiting"] is False


def test_a_large_import_is_written_in_chunks_and_says_how_far_it_got(alice, alice_client, monkeypatch):
    """One transaction for 40,000 messages held SQLite's write lock for ten seconds: every other write waited."""
    from transfer import writing

    monkeypatch.setattr(writing, "CHUNK_MESSAGES", 3)
    seen = []
    real = writing._write

    def watched(owner, plans, restored):
        # Another writer gets in between two chunks: each chunk is its own transaction.
        seen.append(Import.objects.get().conversations)
        return real(owner, plans, restored)

    monkeypatch.setattr(writing, "_write", watched)
    record = imported(alice_client, chatgpt.export())
    assert record.status == "done" and record.conversations == 2
    assert seen == [0, 1], "the page is told how far it got"


def test_a_failure_in_a_later_chunk_takes_the_earlier_ones_back(alice, alice_client, monkeypatch):
    from transfer import writing

    monkeypatch.setattr(writing, "CHUNK_MESSAGES", 3)
    real = writing._write
    calls = []

    def second_fails(owner, plans, restored):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real(owner, plans, restored)

    monkeypatch.setattr(writing, "_write", second_fails)
    record = imported(alice_client, chatgpt.export())
    assert record.status == "failed" and "No space left" in record.error
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_an_import_interrupted_half_way_says_how_far_it_got(alice, alice_client):
    from transfer import archive

    post_import(alice_client, chatgpt.export())
    record = Import.objects.get()
    record.claim()
    Import.objects.update(conversations=1, heartbeat_at=timezone.now() - Import.STALE_AFTER - timedelta(seconds=1))
    archive.prune()
    record.refresh_from_db()
    assert record.status == "failed"
    assert record.error.startswith("The import was interrupted (its worker stopped) after 1 conversation.")
    assert "what came in already is recognised" in record.error


def test_a_pictures_name_cannot_break_the_markdown_it_sits_in(alice, alice_client):
    data = json.loads(zipfile.ZipFile(io.BytesIO(chatgpt_zip(with_missing=False))).read("conversations.json"))
    archive = zip_of(
        {
            "conversations.json": json.dumps(data).encode(),
            "file-Photo1-IMG_0001.png": picture(),
            "dalle-generations/file_00000000cat-](javascript:alert(1))<b>.webp": picture("WEBP", (64, 64)),
        }
    )
    record = imported(alice_client, archive, "chatgpt-export.zip")
    assert record.status == "done", record.error
    drawn = Message.objects.get(content__startswith="![")
    cat = StoredFile.objects.get(owner=alice, import_key="chatgpt:file_00000000cat")
    assert drawn.content == f"![file_00000000cat-javascript:alert1b.webp]({cat.get_absolute_url()})"
    assert "javascript" not in drawn.rendered.split('alt="')[0] and "<b>" not in drawn.rendered


def test_a_cancel_just_after_the_last_chunk_keeps_nothing(alice, alice_client, monkeypatch):
    """The cancel found at the end was undone by its own transaction's rollback: the conversations stayed."""
    real = importing.save

    def cancelled_after(owner, plans, restored=None, *, between=None):
        report = real(owner, plans, restored, between=between)
        Import.objects.get().cancel()
        return report

    monkeypatch.setattr(importing, "save", cancelled_after)
    record = imported(alice_client, chatgpt_zip(), "chatgpt-export.zip")
    assert record.status == "cancelled" and not record.upload
    assert not Conversation.objects.exists() and not StoredFile.objects.exists()


def test_what_the_report_quotes_from_the_file_is_storable(alice, alice_client):
    """A node id or content type with NUL in it went into the report as is (PostgreSQL's JSON refuses it)."""
    data = chatgpt.export()
    data[0]["mapping"]["a4"]["message"]["content"]["content_type"] = "te\x00xt"
    data[0]["mapping"]["a4"]["message"]["author"]["role"] = "ro\ud800le"
    record = imported(alice_client, data)
    assert record.status == "done", record.error
    assert "other messages (ro\ufffdle)" in record.skipped
    assert not any("\x00" in reason or "\ud800" in reason for reason in record.skipped)
