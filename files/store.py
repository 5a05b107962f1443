"""Keeping a file: checked, written to storage and recorded, in one step."""

from django.core.files.base import ContentFile

from . import images, policy
from .audio import CheckedAudio
from .models import StoredFile


def check_image(data: bytes, name: str, *, max_long_side: int | None = None) -> images.NormalisedImage:
    """An image checked and normalised under the admin's limits; raises images.BadImage."""
    limits = policy.current()
    return images.normalise(
        data, name, max_bytes=limits.max_upload_bytes, max_long_side=max_long_side or limits.max_long_side
    )


def keep_image(
    owner_id: int,
    image: images.NormalisedImage,
    name: str,
    source: str,
    *,
    model: str = "",
    prompt: str = "",
    origin_id: int | None = None,
) -> StoredFile:
    """
    Keep a checked image for its owner. The bytes are written first, so a
    row never points at nothing; when the row cannot be written they are
    removed. A caller whose transaction may still roll back afterwards
    removes them with ``discard`` (rows roll back, storage does not).
    """
    stored = StoredFile(
        owner_id=owner_id,
        kind=StoredFile.Kind.IMAGE,
        source=source,
        name=name[:255],
        content_type=image.content_type,
        size=len(image.data),
        width=image.width,
        height=image.height,
        model=model,
        prompt=prompt,
        origin_id=origin_id,
    )
    stored.blob.save(image.extension, ContentFile(image.data), save=False)
    stored.thumbnail.save(".webp", ContentFile(image.thumbnail), save=False)
    try:
        stored.save(force_insert=True)
    except Exception:
        discard([stored])
        raise
    return stored


def keep_audio(
    owner_id: int,
    audio: CheckedAudio,
    name: str,
    source: str,
    *,
    model: str = "",
    prompt: str = "",
    origin_id: int | None = None,
) -> StoredFile:
    """Keep checked audio (an upload, or speech the API made) for its owner; as ``keep_image``."""
    stored = StoredFile(
        owner_id=owner_id,
        kind=StoredFile.Kind.AUDIO,
        source=source,
        name=name[:255],
        content_type=audio.format.content_type,
        size=len(audio.data),
        model=model,
        prompt=prompt,
        origin_id=origin_id,
    )
    stored.blob.save(f".{audio.format.extension}", ContentFile(audio.data), save=False)
    try:
        stored.save(force_insert=True)
    except Exception:
        discard([stored])
        raise
    return stored


def discard(stored: list[StoredFile]) -> None:
    """Remove the bytes of files whose rows were never kept."""
    for item in stored:
        for field in (item.blob, item.thumbnail):
            if field.name:
                field.storage.delete(field.name)
