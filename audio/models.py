"""
Voice: the admin's defaults and each person's own choices, replies read
aloud (kept, so a second listen costs nothing), and audio files turned into
text.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aitre.client.audio import SPEED_RANGE, TRANSCRIPTION_MAX_BYTES, VOICES
from files.models import StoredFile
from jobs.runs import InProcessRun, InProcessRunQuerySet

VOICE_CHOICES = [(voice, voice.capitalize()) for voice in VOICES]
SPEED_VALIDATORS = [MinValueValidator(Decimal(str(SPEED_RANGE[0]))), MaxValueValidator(Decimal(str(SPEED_RANGE[1])))]
MAX_AUDIO_MB = TRANSCRIPTION_MAX_BYTES // 1024 // 1024


class VoiceDefaults(models.Model):
    """
    The admin's defaults (one row; these field defaults until it is saved).
    A blank model means the first model offered with the capability.
    """

    speech_model = models.CharField(
        _("text-to-speech model"), max_length=200, blank=True, help_text=_("Blank: the first model offered.")
    )
    voice = models.CharField(_("voice"), max_length=16, choices=VOICE_CHOICES, default="alloy")
    speed = models.DecimalField(_("speed"), max_digits=3, decimal_places=2, default=1, validators=SPEED_VALIDATORS)
    transcription_model = models.CharField(
        _("transcription model"), max_length=200, blank=True, help_text=_("Blank: the first model offered.")
    )
    max_audio_mb = models.PositiveIntegerField(
        _("largest audio file (MB)"),
        default=MAX_AUDIO_MB,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_AUDIO_MB)],
        help_text=_("The API takes at most 25 MB a file."),
    )

    class Meta:
        verbose_name = _("voice defaults")
        verbose_name_plural = _("voice defaults")

    def __str__(self) -> str:
        return str(_("Voice defaults"))

    @property
    def max_audio_bytes(self) -> int:
        return self.max_audio_mb * 1024 * 1024


class VoicePreference(models.Model):
    """One person's choices; blank or null means the admin's default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="voice_preference"
    )
    speech_model = models.CharField(_("text-to-speech model"), max_length=200, blank=True)
    voice = models.CharField(_("voice"), max_length=16, choices=VOICE_CHOICES, blank=True)
    speed = models.DecimalField(
        _("speed"), max_digits=3, decimal_places=2, null=True, blank=True, validators=SPEED_VALIDATORS
    )
    # ISO-639-1; blank: the API detects the language.
    language = models.CharField(_("dictation language"), max_length=8, blank=True)
    auto_send = models.BooleanField(_("send dictated messages at once"), default=False)

    class Meta:
        verbose_name = _("voice preference")
        verbose_name_plural = _("voice preferences")

    def __str__(self) -> str:
        return str(_("Voice preference"))


class Narration(models.Model):
    """
    A reply read aloud in one voice: its text cut into pieces the speech
    endpoint takes, and each piece's audio once made. Made once per
    (message, model, voice, speed); every later listen plays the kept files.
    """

    message = models.ForeignKey("chat.Message", on_delete=models.CASCADE, related_name="narrations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="narrations")
    model = models.CharField(_("model"), max_length=200)
    voice = models.CharField(_("voice"), max_length=16)
    speed = models.DecimalField(_("speed"), max_digits=3, decimal_places=2)
    pieces = models.JSONField(_("pieces of text"), default=list)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("reply read aloud")
        verbose_name_plural = _("replies read aloud")
        constraints = [
            models.UniqueConstraint(fields=["message", "model", "voice", "speed"], name="one_narration_per_voice")
        ]

    def __str__(self) -> str:
        # Never the text: this string shows in the admin.
        return str(_("Reading of message #%(number)s")) % {"number": self.message_id}

    def get_absolute_url(self) -> str:
        return reverse("chat:conversation", args=[self.message.conversation_id]) + f"#m{self.message_id}"

    def usage_label(self) -> str:
        """How its owner sees it on their Usage page (see usage.subjects): by its conversation, as they know it."""
        return str(_("Read aloud: %(conversation)s")) % {"conversation": self.message.conversation.display_title}


class NarrationPiece(models.Model):
    narration = models.ForeignKey(Narration, on_delete=models.CASCADE, related_name="made")
    index = models.PositiveSmallIntegerField()
    file = models.OneToOneField(StoredFile, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["narration", "index"], name="one_file_per_piece")]
        ordering = ["index"]

    def __str__(self) -> str:
        return f"{self.narration} ({self.index + 1})"


class TranscriptionQuerySet(InProcessRunQuerySet["Transcription"]):
    """for_user, running and stale (jobs.runs)."""


class Transcription(InProcessRun):
    """An audio file turned into text in its own language, or translated into English."""

    class Task(models.TextChoices):
        TRANSCRIBE = "transcribe", _("transcription")
        TRANSLATE = "translate", _("translation to English")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="transcriptions")
    audio = models.ForeignKey(StoredFile, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(_("file name"), max_length=255)
    task = models.CharField(_("task"), max_length=16, choices=Task.choices, default=Task.TRANSCRIBE)
    model = models.CharField(_("model"), max_length=200)
    language = models.CharField(_("language hint"), max_length=8, blank=True)
    prompt = models.TextField(_("prompt"), blank=True)
    error = models.TextField(_("error"), blank=True)
    text = models.TextField(_("text"), blank=True)
    # [{"start": s, "end": s, "text": ...}], as the API timed them: the subtitles.
    segments = models.JSONField(_("segments"), default=list, blank=True)
    detected_language = models.CharField(_("language heard"), max_length=32, blank=True)
    # Seconds, from the file's own headers, else as the API counted them.
    duration = models.FloatField(_("length (s)"), null=True, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=14, decimal_places=6, null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("time taken (ms)"), null=True, blank=True)

    objects = TranscriptionQuerySet.as_manager()
    interrupted_error = _(
        "The transcription was interrupted because the server restarted. It may have been charged; Retry runs it again."
    )

    class Meta:
        verbose_name = _("audio transcription")
        verbose_name_plural = _("audio transcriptions")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(
                fields=["status", "updated_at"], name="audio_tr_running_idx", condition=models.Q(status="running")
            ),
        ]

    def __str__(self) -> str:
        # Never the file's name or text: this string shows in the admin.
        return str(_("Transcription #%(number)s")) % {"number": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("audio:transcript", args=[self.pk])

    def usage_label(self) -> str:
        return str(_("Audio: %(name)s")) % {"name": self.name[:60]}

    @property
    def can_retry(self) -> bool:
        return self.status in (self.Status.ERROR, self.Status.INTERRUPTED) and self.audio_id is not None

    @property
    def minutes(self) -> Decimal:
        """What it is priced at: minutes of audio, to the second."""
        return (Decimal(str(self.duration or 0)) / 60).quantize(Decimal("0.0001"))

    @property
    def length_label(self) -> str:
        seconds = round(self.duration or 0)
        return f"{seconds // 60}:{seconds % 60:02d}"


@receiver(post_delete, sender=NarrationPiece)
def _drop_piece_audio(instance: NarrationPiece, **kwargs: Any) -> None:
    """A reading goes with its reply (a conversation deleted): its audio goes too, bytes and all."""
    stored = StoredFile.objects.filter(pk=instance.file_id).first()
    if stored is None:
        return
    names = [name for name in (stored.blob.name, stored.thumbnail.name) if name]
    StoredFile.objects.filter(pk=stored.pk).delete()
    # The bytes only once the rows are surely gone (storage does not roll back).
    transaction.on_commit(lambda: _delete_blobs(stored.blob.storage, names))


def _delete_blobs(storage: Any, names: list[str]) -> None:
    for name in names:
        storage.delete(name)
