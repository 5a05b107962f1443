"""
Everything of one user's as one zip, built by the worker into storage:

- ``conversations.json``: every conversation, the schema of transfer.documents
  (importable here again);
- ``conversations/NNNN-title.md``: each as Markdown, pictures linked to
- ``files/<id>.<ext>``: every picture and recording kept for the user (chat,
  the image studio, Midjourney, read aloud), listed in ``files.json``;
- ``transcripts/NNNN-name.txt``: each finished transcription, and all of
  them in ``transcriptions.json`` (with their timing and recording), which
  an import reads back;
- ``settings.json``: the theme and voice choices. Never an API key, not even
  the user's own (it is not theirs to lose in a download folder).
"""

import json
import re
import tempfile
import zipfile
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.tasks import task
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audio.models import Transcription, VoicePreference
from chat.models import Conversation
from files.models import StoredFile
from jobs.registry import Job

from . import documents
from .models import Export, Import

# A zip is written to a temporary file first, then stored: a large account's
# archive never sits in memory.
SPOOL_BYTES = 16 * 1024 * 1024


def slug(text: str, fallback: str) -> str:
    """A file name's part made of ``text``: letters (any script), digits, dots and dashes."""
    cleaned = re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-._")[:60]
    return cleaned or fallback


def _settings_of(user: User) -> dict[str, Any]:
    voice = VoicePreference.objects.filter(user=user).first()
    return {
        "theme": user.theme,
        "voice": {
            "speech_model": voice.speech_model,
            "voice": voice.voice,
            "language": voice.language,
        }
        if voice
        else None,
    }


def _transcription(transcription: Transcription, paths: dict[str, str]) -> dict[str, Any]:
    return {
        "name": transcription.name,
        "task": transcription.task,
        "model": transcription.model,
        "language": transcription.language,
        "prompt": transcription.prompt,
        "text": transcription.text,
        "segments": transcription.segments,
        "detected_language": transcription.detected_language,
        "duration": transcription.duration,
        "created_at": transcription.created_at.isoformat(),
        "audio": paths.get(str(transcription.audio_id)),
    }


def write(user: User, target: Any) -> tuple[int, int]:
    """Write the user's archive into the open binary file ``target``; (conversations, files)."""
    conversations = list(Conversation.objects.filter(owner=user).order_by("created_at", "pk"))
    stored = list(StoredFile.objects.filter(owner=user).order_by("created_at"))
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations.json", json.dumps(documents.export_document(conversations), indent=1))
        user_label, assistant_label = _("You"), _("Assistant")
        for number, conversation in enumerate(conversations, start=1):
            name = f"conversations/{number:04d}-{slug(conversation.title, 'chat')}.md"
            # Pictures are linked from the Markdown's own folder.
            text = documents.markdown(conversation, user_label=user_label, assistant_label=assistant_label)
            archive.writestr(name, text.replace("](files/", "](../files/"))
        listing = []
        for item in stored:
            path = documents.file_path(item)
            try:
                with item.blob.open("rb") as handle, archive.open(path, "w") as out:
                    while chunk := handle.read(1024 * 1024):
                        out.write(chunk)
            except FileNotFoundError:
                continue  # a blob that storage lost is left out, not the whole export
            listing.append(
                {
                    "file": path,
                    "kind": item.kind,
                    "source": item.source,
                    "name": item.name,
                    "model": item.model,
                    "prompt": item.prompt,
                    "content_type": item.content_type,
                    "created_at": item.created_at.isoformat(),
                }
            )
        archive.writestr("files.json", json.dumps(listing, indent=1))
        transcripts = Transcription.objects.filter(owner=user).exclude(text="").order_by("created_at")
        paths = {str(item.pk): documents.file_path(item) for item in stored}
        for number, transcription in enumerate(transcripts, start=1):
            archive.writestr(f"transcripts/{number:04d}-{slug(transcription.name, 'audio')}.txt", transcription.text)
        archive.writestr("transcriptions.json", json.dumps([_transcription(t, paths) for t in transcripts], indent=1))
        archive.writestr("settings.json", json.dumps(_settings_of(user), indent=1))
    return len(conversations), len(listing)


def request(user: User) -> Export:
    """The user's export, queued for the worker; one at a time (a second press while one is built is that one)."""
    pending = Export.objects.for_user(user).filter(status__in=[Export.Status.QUEUED, Export.Status.BUILDING]).first()
    if pending is not None:
        return pending
    export = Export.objects.create(owner=user)
    build_export.enqueue(str(export.pk))
    return export


@task(queue_name="exports")
def build_export(export_id: str) -> None:
    """The worker's job, on the ``exports`` queue (no chat job waits behind a large export)."""
    export = Export.objects.filter(pk=export_id).select_related("owner").first()
    if export is not None:
        build(export)


def build(export: Export) -> None:
    """Build ``export``'s zip (the worker's job); a failure is kept on the export, for the page."""
    if not export.claim():
        return
    try:
        # Marked alive while it runs: an export of a large account takes longer than the stale rule's minutes.
        with export.beating(), tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            conversations, files = write(export.owner, spool)
            size = spool.tell()
            spool.seek(0)
            export.archive.save(export.download_name, File(spool), save=False)
    except Exception as error:
        export.fail(str(error) or type(error).__name__)
        raise
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.READY,
        archive=export.archive.name,
        size=size,
        conversations=conversations,
        files=files,
        finished_at=timezone.now(),
    )


def recent_jobs(user: User, limit: int) -> list[Job]:
    """The user's imports and exports for the job centre (each links to the export and import page)."""
    page = reverse("transfer:page")
    imports = [
        record.as_job(str(_("Import")), record.name or str(_("A file")), page)
        for record in Import.objects.for_user(user)[:limit]
    ]
    exports = [
        export.as_job(str(_("Export")), str(_("Everything, as one zip")), page)
        for export in Export.objects.for_user(user)[:limit]
    ]
    return imports + exports


def prune() -> int:
    """
    The worker's sweep: imports and exports whose worker died are settled as
    failed (else an export would stay "being built", and no other could be
    asked for), and exports older than EXPORT_KEEP_DAYS go, with their files
    (how many).
    """
    Import.objects.settle_stale()
    Export.objects.settle_stale()
    old = Export.objects.filter(created_at__lt=timezone.now() - timedelta(days=settings.EXPORT_KEEP_DAYS))
    gone = 0
    for export in old.exclude(status__in=[Export.Status.QUEUED, Export.Status.BUILDING])[:100]:
        export.delete_with_archive()
        gone += 1
    return gone
