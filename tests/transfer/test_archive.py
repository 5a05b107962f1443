"""Everything of mine as one zip, built by the worker: conversations, pictures, transcripts, settings; never a key."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from aitre.models import Credential
from audio.models import Transcription, VoicePreference
from chat.models import Conversation
from files import store
from files.models import StoredFile
from tests.files.images import picture
from tests.helpers import branched_conversation, run_jobs, tree_shape
from transfer.models import Export

PERSONAL_KEY = "sk-personal-EXPORT-4321-zyxwvu"


def zipped(response) -> zipfile.ZipFile:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return zipfile.ZipFile(io.BytesIO(body))


def test_the_whole_account_as_one_zip(alice, alice_client, bob_client):
    alice.theme = "dark"
    alice.save()
    conversation = branched_conversation(alice)
    kept = store.keep_image(alice.pk, store.check_image(picture(), "sky.png"), "sky.png", StoredFile.Source.STUDIO)
    question = conversation.messages.get(content="And at dusk?")
    question.parts = [{"file": str(kept.pk), "name": "sky.png"}]
    question.save()
    Transcription.objects.create(
        owner=alice, name="memo.wav", model="whisper-1", status="complete", text="Buy blue paint."
    )
    VoicePreference.objects.create(user=alice, voice="nova")
    key = Credential(user=alice, name="personal")
    key.set_key(PERSONAL_KEY)
    key.save()

    response = alice_client.post("/transfer/export")
    assert response.status_code == 302
    export = Export.objects.get(owner=alice)
    assert export.status == Export.Status.QUEUED
    # A second press while it is being built is the same export.
    alice_client.post("/transfer/export")
    assert Export.objects.filter(owner=alice).count() == 1
    page = alice_client.get("/transfer/").content.decode()
    assert f'data-status-url="/transfer/exports/{export.pk}/status"' in page
    assert alice_client.get(f"/transfer/exports/{export.pk}").status_code == 404, "not ready yet"

    run_jobs()
    export.refresh_from_db()
    assert export.status == Export.Status.READY
    assert (export.conversations, export.files) == (1, 1)
    assert alice_client.get(f"/transfer/exports/{export.pk}/status").json() == {"status": "ready", "pending": False}
    assert f'href="/transfer/exports/{export.pk}"' in alice_client.get("/transfer/").content.decode()

    download = alice_client.get(f"/transfer/exports/{export.pk}")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"].startswith('attachment; filename="aitre-export-')
    assert bob_client.get(f"/transfer/exports/{export.pk}").status_code == 404
    archive = zipped(download)
    names = archive.namelist()
    image_path = f"files/{kept.pk}.webp" if kept.blob.name.endswith(".webp") else f"files/{kept.pk}.png"
    assert set(names) == {
        "conversations.json",
        "conversations/0001-Paint.md",
        image_path,
        "files.json",
        "transcripts/0001-memo.wav.txt",
        "transcriptions.json",
        "settings.json",
    }
    assert archive.read(image_path) == kept.read()
    assert f"](../{image_path})" in archive.read("conversations/0001-Paint.md").decode()
    assert archive.read("transcripts/0001-memo.wav.txt").decode() == "Buy blue paint."
    settings_json = json.loads(archive.read("settings.json"))
    assert settings_json["theme"] == "dark" and settings_json["voice"]["voice"] == "nova"
    listing = json.loads(archive.read("files.json"))
    assert listing[0]["source"] == "studio" and listing[0]["file"] == image_path
    everything = b"".join(archive.read(name) for name in names)
    assert PERSONAL_KEY.encode() not in everything and PERSONAL_KEY[-8:].encode() not in everything

    # The zip's conversations.json imports again: the same tree.
    before = tree_shape(conversation)
    conversation.delete()
    upload = SimpleUploadedFile("conversations.json", archive.read("conversations.json"))
    assert alice_client.post("/transfer/import", {"file": upload}).status_code == 302
    run_jobs()
    assert tree_shape(Conversation.objects.get(owner=alice)) == before

    # Deleting the export deletes its file.
    name = export.archive.name
    assert alice_client.post(f"/transfer/exports/{export.pk}/delete").status_code == 302
    assert not Export.objects.exists()
    assert not export.archive.storage.exists(name)


def test_a_failed_build_says_so(alice, alice_client, monkeypatch):
    from transfer import archive

    def broken(user, target):
        raise OSError("No space left on device")

    monkeypatch.setattr(archive, "write", broken)
    alice_client.post("/transfer/export")
    run_jobs()
    export = Export.objects.get(owner=alice)
    assert export.status == Export.Status.FAILED
    assert "No space left on device" in alice_client.get("/transfer/").content.decode()
    # A new one can be asked for.
    alice_client.post("/transfer/export")
    assert Export.objects.filter(owner=alice, status=Export.Status.QUEUED).count() == 1


def test_an_export_shows_in_the_job_centre_and_goes_after_a_week(alice, alice_client, settings):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.registry import recent
    from transfer import archive

    alice_client.post("/transfer/export")
    (job,) = [job for job in recent(alice) if job.key.startswith("export-")]
    assert job.running and job.url == "/transfer/"
    run_jobs()
    (job,) = [job for job in recent(alice) if job.key.startswith("export-")]
    assert not job.running and not job.failed and job.status == "ready"
    alice_client.post(
        "/transfer/import",
        {"file": SimpleUploadedFile("mine.json", b'{"schema": "aitre-web/export", "version": 1, "conversations": []}')},
    )
    (job,) = [job for job in recent(alice) if job.key.startswith("import-")]
    assert (job.title, job.running) == ("mine.json", True)
    export = Export.objects.get()
    name = export.archive.name
    assert archive.prune() == 0, "a fresh export stays"
    Export.objects.update(created_at=timezone.now() - timedelta(days=settings.EXPORT_KEEP_DAYS, minutes=1))
    assert archive.prune() == 1
    assert not Export.objects.exists()
    assert not export.archive.storage.exists(name)
    assert "An export is kept for 7 days." in alice_client.get("/transfer/").content.decode()


def test_an_export_whose_worker_died_does_not_block_the_next(alice, alice_client):
    from datetime import timedelta

    from django.utils import timezone

    from transfer import archive

    alice_client.post("/transfer/export")
    Export.objects.update(status=Export.Status.BUILDING)
    alice_client.post("/transfer/export")
    assert Export.objects.count() == 1, "one at a time"
    Export.objects.update(created_at=timezone.now() - Export.STALE_AFTER - timedelta(minutes=1))
    archive.prune()
    stuck = Export.objects.get()
    assert stuck.status == Export.Status.FAILED and "interrupted" in stuck.error
    alice_client.post("/transfer/export")
    run_jobs()
    assert Export.objects.filter(status=Export.Status.READY).count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_export_marks_itself_alive_while_it_is_built(alice, alice_client, monkeypatch):
    """The stale rule is minutes now: a long build must say it is alive, or the sweep fails it mid-way."""
    from jobs.models import WorkerJob
    from transfer import archive

    monkeypatch.setattr(WorkerJob, "HEARTBEAT", __import__("datetime").timedelta(seconds=0.05))
    real = archive.write
    beats = []

    def slow(user, target):
        export = Export.objects.get()
        first = export.heartbeat_at
        from tests.helpers import wait_for

        wait_for(lambda: Export.objects.get().heartbeat_at != first)
        beats.append(Export.objects.get().heartbeat_at)
        return real(user, target)

    monkeypatch.setattr(archive, "write", slow)
    alice_client.post("/transfer/export")
    run_jobs()
    assert beats and Export.objects.get().status == Export.Status.READY
