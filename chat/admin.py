from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from lib.admin import ReadOnlyAdmin

from . import privacy, threads
from .models import ContentAccess, Conversation, Message


class MessageInline(admin.TabularInline[Message, Conversation]):
    """Metadata only: who may read message text is a separate, audited permission."""

    model = Message
    fields = (
        "created_at",
        "role",
        "status",
        "model",
        "total_tokens",
        "usage_estimated",
        "ttft_ms",
        "duration_ms",
        "error",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ["pk"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin[Conversation]):
    change_form_template = "admin/chat/conversation/change_form.html"
    """
    Conversations as metadata. The title is made of the first message, so it
    is content: only admins granted the permission to read message text see
    it, search it or change it (``chat.privacy``); the others see the
    conversation's number and date (``Conversation.__str__``).
    """

    list_display = ["__str__", "owner", "model", "message_count", "pinned", "updated_at"]
    list_filter = ["pinned", "archived", "model", "updated_at"]
    search_fields = ["owner__username"]
    readonly_fields = ["owner", "created_at", "updated_at", "current_leaf"]
    fields = ["owner", "model", "temperature", "pinned", "archived", "created_at", "updated_at"]
    inlines = [MessageInline]
    list_select_related = ["owner"]

    def _reads_content(self, request: HttpRequest) -> bool:
        """Asked by the list, its search and the form alike: looked up once per request."""
        if not hasattr(request, "_reads_content"):
            request._reads_content = privacy.can_read_content(request.user)  # type: ignore[attr-defined]
        return bool(request._reads_content)  # type: ignore[attr-defined]

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        if self._reads_content(request):
            return ["__str__", "title", *self.list_display[1:]]
        return list(self.list_display)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        if self._reads_content(request):
            return ["title", *self.search_fields]
        return list(self.search_fields)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields = list(self.fields)
        if self._reads_content(request):
            fields.insert(1, "title")
        return fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        conversations: QuerySet[Conversation] = super().get_queryset(request).annotate(message_count=Count("messages"))
        return conversations

    @admin.display(description=_("messages"), ordering="message_count")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.message_count  # type: ignore[attr-defined,no-any-return]

    def get_urls(self) -> list[URLPattern]:
        transcript = path(
            "<int:pk>/messages/", self.admin_site.admin_view(self.transcript), name="chat_conversation_transcript"
        )
        return [transcript, *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        extra_context = {**(extra_context or {}), "can_read_content": self._reads_content(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def transcript(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A conversation's text, for admins granted the permission; every reading is recorded."""
        conversation = get_object_or_404(Conversation.objects.select_related("owner"), pk=pk)
        if not privacy.can_read_content(request.user):
            raise PermissionDenied(_("Reading messages needs the permission to read users' conversations."))
        privacy.record_access(request.user, conversation)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Messages of %(title)s") % {"title": conversation.display_title},  # read with the permission
            "opts": self.model._meta,
            "conversation": conversation,
            "thread": threads.current(conversation),
        }
        return TemplateResponse(request, "admin/chat/conversation/transcript.html", context)


@admin.register(ContentAccess)
class ContentAccessAdmin(ReadOnlyAdmin):
    """The audit log: read-only, for everyone who may see it, deletable by no one."""

    list_display = ["created_at", "reader_name", "owner", "conversation_title"]
    list_filter = ["created_at"]
    search_fields = ["reader_name", "owner__username", "conversation_title"]
    list_select_related = ["owner"]
