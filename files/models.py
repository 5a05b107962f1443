"""
Owner-scoped files: uploaded images, generated images, uploaded audio and
speech read aloud, and later Midjourney results. The bytes live in Django's default storage (the
filesystem under MEDIA_ROOT, or an S3-compatible bucket); a row says whose
they are, what they are and where they came from.

Files are private. A file's id is a random UUID, its storage name is made
of that id (never of the uploaded name), and it is only ever served through
``files.views`` after an access check, or as a short-lived signed URL.
"""

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from lib.remembered import RememberedRow


class StoredFileQuerySet(models.QuerySet["StoredFile"]):
    def for_user(self, user: User) -> "StoredFileQuerySet":
        return self.filter(owner=user)

    def images(self) -> "StoredFileQuerySet":
        """The pictures a person keeps: a Midjourney preview, shown only while its task renders, is none."""
        return self.filter(kind=StoredFile.Kind.IMAGE).exclude(
            source=StoredFile.Source.MIDJOURNEY, name__startswith=self.MIDJOURNEY_PREVIEW
        )

    def by_ids(self, values: Iterable[Any]) -> "list[StoredFile] | None":
        """
        The files with these ids, in the order given, each once; None when
        any id is malformed or not among these files (a stranger's file is
        not there, like one that never was).
        """
        try:
            ids = list(dict.fromkeys(uuid.UUID(str(value)) for value in values))
        except ValueError:
            return None
        found = {stored.pk: stored for stored in self.filter(pk__in=ids)} if ids else {}
        return [found[pk] for pk in ids] if len(found) == len(ids) else None

    # The name Midjourney's previews are kept under (midjourney.polling): a picture
    # shown while a task renders, which is no part of what it made.
    MIDJOURNEY_PREVIEW = "midjourney-preview"

    def previews_of_midjourney(self) -> "StoredFileQuerySet":
        return self.filter(source=StoredFile.Source.MIDJOURNEY, name__startswith=self.MIDJOURNEY_PREVIEW)

    def delete_with_blobs(self) -> int:
        """Delete the rows and their bytes in storage (a queryset delete alone leaves the bytes)."""
        names = [name for pair in self.values_list("blob", "thumbnail") for name in pair if name]
        count, _detail = self.delete()
        for name in names:
            default_storage.delete(name)
        return count


def _blob_name(stored: "StoredFile", filename: str) -> str:
    # The owner's number and the file's own id: nothing of the uploaded name, nothing guessable.
    return f"files/{stored.owner_id}/{stored.pk.hex}{_suffix(filename)}"


def _thumbnail_name(stored: "StoredFile", filename: str) -> str:
    return f"files/{stored.owner_id}/{stored.pk.hex}.thumb{_suffix(filename)}"


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot >= 0 and len(filename) - dot <= 6 else ""


class StoredFile(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", _("image")
        AUDIO = "audio", _("audio")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("uploaded")
        CHAT = "chat", _("chat reply")
        STUDIO = "studio", _("image studio")
        MIDJOURNEY = "midjourney", _("Midjourney")
        SPEECH = "speech", _("read aloud")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.IMAGE)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    # What the owner called it (an upload's file name) or what made it (a model's name).
    name = models.CharField(_("name"), max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    blob = models.FileField(_("file"), upload_to=_blob_name, max_length=255)
    thumbnail = models.FileField(_("thumbnail"), upload_to=_thumbnail_name, max_length=255, blank=True)
    # The model that made it and what it was asked, for the media library.
    model = models.CharField(_("model"), max_length=200, blank=True)
    prompt = models.TextField(_("prompt"), blank=True)
    # Where it came from in the feature that made it (see files.sources): a
    # conversation's number for chat, a generation's for the studio.
    origin_id = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    # The id it had in the export it was imported from ("file:<uuid>"): importing the same zip again keeps no copy.
    import_key = models.CharField(max_length=120, blank=True, editable=False)

    objects = StoredFileQuerySet.as_manager()

    class Meta:
        verbose_name = _("stored file")
        verbose_name_plural = _("stored files")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "kind", "-created_at"])]

    def __str__(self) -> str:
        # Never the prompt or the name: this string shows in the admin.
        return f"{self.get_kind_display()} {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("files:serve", args=[self.pk])

    @property
    def thumbnail_url(self) -> str:
        return reverse("files:thumbnail", args=[self.pk])

    @property
    def download_name(self) -> str:
        """The name a download is saved under: the upload's own stem, the stored format's extension."""
        stem = self.name.rsplit(".", 1)[0] if "." in self.name else self.name
        return f"{stem or self.get_kind_display()}{_suffix(self.blob.name or '')}"

    def read(self) -> bytes:
        with self.blob.open("rb") as handle:
            data: bytes = handle.read()
        return data

    def delete_with_blobs(self) -> None:
        StoredFile.objects.filter(pk=self.pk).delete_with_blobs()


class UploadPolicy(models.Model):
    """
    The admin's limits on uploaded images (one row; the defaults from
    settings until it is saved). Read once every few seconds per process.
    """

    max_upload_mb = models.PositiveIntegerField(
        _("largest upload (MB)"), default=20, help_text=_("An image file larger than this is refused.")
    )
    max_long_side = models.PositiveIntegerField(
        _("longest side kept (pixels)"),
        default=2048,
        help_text=_("Larger images are scaled down to this before they are stored and sent to a model."),
    )
    max_images_per_message = models.PositiveIntegerField(_("images per message"), default=6)

    class Meta:
        verbose_name = _("upload limits")
        verbose_name_plural = _("upload limits")

    def __str__(self) -> str:
        return str(_("Upload limits"))

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @classmethod
    def current(cls) -> "UploadPolicy":
        """The limits in force: the admin's row, read once every few seconds per process."""
        return _remembered_policy.current()

    @classmethod
    def forget(cls) -> None:
        _remembered_policy.forget()


_remembered_policy = RememberedRow(UploadPolicy)
