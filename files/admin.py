from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lib.admin import ReadOnlyAdmin

from .models import StoredFile, UploadPolicy

SHOWN = ("id", "owner", "kind", "source", "model", "content_type", "size", "width", "height", "created_at")


@admin.register(StoredFile)
class StoredFileAdmin(ReadOnlyAdmin):
    """
    What is stored, whose and how large: never the picture or its prompt,
    which are the owner's content (opening one needs the audited permission
    that guards message text, see files.access).
    """

    list_display = ["created_at", "owner", "kind", "source", "model", "content_type", "size", "width", "height"]
    list_filter = ["kind", "source", "content_type", ("owner", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["owner__username", "model"]
    fields = SHOWN
    readonly_fields = SHOWN

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UploadPolicy)
class UploadPolicyAdmin(admin.ModelAdmin[UploadPolicy]):
    list_display = ["__str__", "max_upload_mb", "max_long_side", "max_images_per_message"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row: the limits in force.
        return not UploadPolicy.objects.exists()
