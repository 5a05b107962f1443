from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lib.admin import ReadOnlyAdmin

from .models import MidjourneyTask

SHOWN = (
    "id",
    "owner",
    "action",
    "button_label",
    "bot_type",
    "upstream_id",
    "status",
    "progress",
    "queue_position",
    "error",
    "fail_reason",
    "charge",
    "refunded",
    "polls",
    "fetch_errors",
    "not_found",
    "download_attempts",
    "parent",
    "created_at",
    "submitted_at",
    "progress_at",
    "stalled_at",
    "next_poll_at",
    "lease_until",
    "finished_at",
)


@admin.register(MidjourneyTask)
class MidjourneyTaskAdmin(ReadOnlyAdmin):
    """Jobs, their state and their errors; the prompt is the owner's content and is not shown."""

    list_display = ["created_at", "owner", "action", "status", "progress", "upstream_id", "refunded", "error"]
    list_filter = ["status", "action", "refunded", ("owner", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["owner__username", "upstream_id"]
    fields = SHOWN
    readonly_fields = SHOWN

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
