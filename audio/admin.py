from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lib.admin import ReadOnlyAdmin

from .models import Transcription, VoiceDefaults

SHOWN = ("id", "owner", "task", "model", "status", "duration", "cost", "duration_ms", "error", "created_at")


@admin.register(VoiceDefaults)
class VoiceDefaultsAdmin(admin.ModelAdmin[VoiceDefaults]):
    list_display = ["__str__", "speech_model", "voice", "speed", "transcription_model", "max_audio_mb"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row: the defaults in force.
        return not VoiceDefaults.objects.exists()


@admin.register(Transcription)
class TranscriptionAdmin(ReadOnlyAdmin):
    """What ran, whose, how long and what it cost: never the file's name or its text, the owner's content."""

    list_display = ["created_at", "owner", "task", "model", "status", "duration", "cost"]
    list_filter = ["status", "task", "model", ("owner", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["owner__username", "model"]
    fields = SHOWN
    readonly_fields = SHOWN

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
