from django.contrib import admin
from django.http import HttpRequest

from .models import Export, Import

EXPORT_FIELDS = ("owner", "status", "created_at", "finished_at", "size", "conversations", "files", "error")


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin[Export]):
    """Exports, to see that they are built; their contents are the owner's, and not downloadable here."""

    list_display = ["__str__", "owner", "status", "created_at", "finished_at", "size", "conversations", "files"]
    list_filter = ["status"]
    fields = EXPORT_FIELDS
    readonly_fields = EXPORT_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


IMPORT_FIELDS = (
    "owner",
    "name",
    "source",
    "status",
    "created_at",
    "finished_at",
    "conversations",
    "messages",
    "skipped",
    "error",
)


@admin.register(Import)
class ImportAdmin(admin.ModelAdmin[Import]):
    """Imports, to see that they are written; the file is the owner's and is gone once written."""

    list_display = ["__str__", "owner", "source", "status", "created_at", "finished_at", "conversations", "messages"]
    list_filter = ["status", "source"]
    fields = IMPORT_FIELDS
    readonly_fields = IMPORT_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
