"""
What a zip brings besides conversations: the pictures and recordings it
holds (this site's ``files/``, ChatGPT's ``file-…`` assets), this site's
transcripts and settings. Every file is checked as an upload is
(files.store) and kept as the importing user's; a file this account already
imported from the same export (its ``import_key``) is that file again, not
a copy. A file that cannot be kept is said, by name and reason, never
fatal to the rest.
"""

import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts.models import User
from audio import voices
from audio.models import Transcription, VoicePreference
from files import audio, store
from files.images import BadImage
from files.models import StoredFile

# Generated pictures are kept at full size, as when they were made (chat.pictures).
GENERATED_LONG_SIDE = 4096
MAX_FILES = 10_000
_OUR_FILE = re.compile(r"^files/([0-9a-f-]{36})(\.[a-z0-9]{1,5})?$")
# ChatGPT names an asset "file-<id>-<its name>" (older) or "file_<id>-<uuid>.<ext>" (newer).
_CHATGPT_ASSET = re.compile(r"^(file[-_][A-Za-z0-9]+)")


class Unreadable(Exception):
    """A file in the zip that could not be kept, and why (for the import's notes)."""


@dataclass
class Restored:
    """The files an import brought in: the kept file for each zip path, what it made new, and what it said."""

    by_path: dict[str, StoredFile] = field(default_factory=dict)
    made: list[StoredFile] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    # Pictures the file names but does not hold, by their key: why (said in their messages only).
    missing: dict[str, str] = field(default_factory=dict)

    def by_original_id(self) -> dict[str, StoredFile]:
        """The kept files by the id they had in this site's export (what its messages link to)."""
        return {str(original): kept for path, kept in self.by_path.items() if (original := file_id(path)) is not None}

    def undo(self) -> None:
        """An import that did not land leaves none of its new files behind."""
        StoredFile.objects.filter(pk__in=[f.pk for f in self.made]).delete_with_blobs()
        store.discard(self.made)


def chatgpt_assets(archive: zipfile.ZipFile | None) -> dict[str, str]:
    """ChatGPT's assets in its zip, by the id its messages point at ("file-AbC…" → the member's name)."""
    found: dict[str, str] = {}
    for name in archive.namelist() if archive else []:
        match = _CHATGPT_ASSET.match(name.rsplit("/", 1)[-1])
        if match and not name.endswith("/"):
            found.setdefault(match.group(1), name)
    return found


def asset_id(pointer: str) -> str:
    """The id in an asset pointer ("file-service://file-AbC", "sediment://file_00…")."""
    return pointer.split("://", 1)[-1]


def _read(archive: zipfile.ZipFile, path: str, limit: int) -> bytes:
    try:
        member = archive.getinfo(path)
    except KeyError:
        raise Unreadable(_("it is not in the zip")) from None
    # The size the zip declares is checked first, and the read bounded too (a zip may lie).
    if member.file_size > limit:
        raise Unreadable(_("it is larger than %(limit)s MB") % {"limit": limit // 1024 // 1024})
    try:
        with archive.open(member) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
        raise Unreadable(_("it is damaged in the zip")) from None
    if len(data) > limit:
        raise Unreadable(_("it is larger than %(limit)s MB") % {"limit": limit // 1024 // 1024})
    return data


def keep(
    owner: User,
    archive: zipfile.ZipFile,
    path: str,
    *,
    key: str,
    name: str,
    source: str,
    kind: str = StoredFile.Kind.IMAGE,
    model: str = "",
    prompt: str = "",
    created_at: Any = None,
) -> tuple[StoredFile, bool]:
    """
    One file of the zip checked and kept as ``owner``'s, and True; or the one
    kept from it before, and False. Raises Unreadable.
    """
    already = StoredFile.objects.filter(owner=owner, import_key=key).first()
    if already is not None:
        return already, False
    if kind == StoredFile.Kind.AUDIO:
        limit = voices.defaults().max_audio_bytes
        try:
            checked = audio.check(_read(archive, path, limit), name, max_bytes=limit)
        except audio.BadAudio as problem:
            raise Unreadable(problem.reason) from None
        kept = store.keep_audio(owner.pk, checked, name, source, model=model, prompt=prompt)
    else:
        long_side = None if source == StoredFile.Source.UPLOAD else GENERATED_LONG_SIDE
        try:
            image = store.check_image(_read(archive, path, 64 * 1024 * 1024), name, max_long_side=long_side)
        except BadImage as problem:
            raise Unreadable(problem.reason) from None
        kept = store.keep_image(owner.pk, image, name, source, model=model, prompt=prompt)
    StoredFile.objects.filter(pk=kept.pk).update(import_key=key, created_at=created_at or kept.created_at)
    return kept, True


def _moment(value: Any) -> Any:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _listing(archive: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    """A JSON list the export wrote beside conversations.json ([] when it is missing or not one)."""
    try:
        data = json.loads(_read(archive, name, 64 * 1024 * 1024).decode("utf-8"))
    except (Unreadable, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return []
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def our_files(owner: User, archive: zipfile.ZipFile, restored: Restored) -> None:
    """Every file this site's export lists in ``files.json``: the account's library, back."""
    sources, kinds = set(StoredFile.Source.values), set(StoredFile.Kind.values)
    for item in _listing(archive, "files.json")[:MAX_FILES]:
        path = str(item.get("file") or "")
        match = _OUR_FILE.match(path)
        if match is None or path in restored.by_path:
            continue
        name = str(item.get("name") or "")[:255]
        source = str(item.get("source") or "")
        kind = str(item.get("kind") or "")
        try:
            kept, new = keep(
                owner,
                archive,
                path,
                key=f"file:{match.group(1)}",
                name=name,
                source=source if source in sources else StoredFile.Source.UPLOAD,
                kind=kind if kind in kinds else StoredFile.Kind.IMAGE,
                model=str(item.get("model") or "")[:200],
                prompt=str(item.get("prompt") or "")[:4000],
                created_at=_moment(item.get("created_at")),
            )
        except Unreadable as problem:
            restored.problems[path] = str(problem)
            continue
        restored.by_path[path] = kept
        if new:
            restored.made.append(kept)


def our_transcripts(owner: User, archive: zipfile.ZipFile, restored: Restored) -> int:
    """This site's finished transcriptions (``transcriptions.json``), each pointing at its restored recording."""
    made = 0
    tasks = set(Transcription.Task.values)
    for item in _listing(archive, "transcriptions.json")[:MAX_FILES]:
        created = _moment(item.get("created_at")) or timezone.now()
        name = str(item.get("name") or "")[:255]
        if Transcription.objects.filter(owner=owner, name=name, created_at=created).exists():
            continue  # imported before
        segments = item.get("segments")
        task = str(item.get("task") or "")
        duration = item.get("duration")
        recording = restored.by_path.get(str(item.get("audio") or ""))
        Transcription.objects.create(
            owner=owner,
            audio=recording if recording is not None and recording.kind == StoredFile.Kind.AUDIO else None,
            name=name,
            task=task if task in tasks else Transcription.Task.TRANSCRIBE,
            model=str(item.get("model") or "")[:200],
            language=str(item.get("language") or "")[:8],
            prompt=str(item.get("prompt") or ""),
            text=str(item.get("text") or ""),
            segments=[s for s in segments if isinstance(s, dict)] if isinstance(segments, list) else [],
            detected_language=str(item.get("detected_language") or "")[:32],
            duration=float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None,
            status=Transcription.Status.COMPLETE,
            created_at=created,
            updated_at=created,
        )
        made += 1
    return made


def our_settings(owner: User, archive: zipfile.ZipFile) -> None:
    """The theme and voice the export kept (nothing else is in it: never a key)."""
    try:
        data = json.loads(_read(archive, "settings.json", 1024 * 1024).decode("utf-8"))
    except (Unreadable, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return
    if not isinstance(data, dict):
        return
    theme = data.get("theme")
    if theme in type(owner).Theme.values:
        type(owner).objects.filter(pk=owner.pk).update(theme=theme)
    voice = data.get("voice")
    if isinstance(voice, dict):
        VoicePreference.objects.update_or_create(
            user=owner,
            defaults={
                "speech_model": str(voice.get("speech_model") or "")[:200],
                "voice": str(voice.get("voice") or "")[:16],
                "language": str(voice.get("language") or "")[:8],
            },
        )


def file_id(path: str) -> uuid.UUID | None:
    match = _OUR_FILE.match(path)
    return uuid.UUID(match.group(1)) if match else None
