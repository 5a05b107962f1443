from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import Conversation, Credential, Message, ModelSetting, UsageRecord


class MessageInline(admin.TabularInline):
    """Metadata only: who may read message text is a separate, audited permission."""

    model = Message
    fields = [
        "created_at",
        "role",
        "status",
        "model",
        "total_tokens",
        "usage_estimated",
        "ttft_ms",
        "duration_ms",
        "error",
    ]
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
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "model", "message_count", "pinned", "updated_at"]
    list_filter = ["pinned", "archived", "model", "updated_at"]
    search_fields = ["title", "owner__username"]
    readonly_fields = ["owner", "created_at", "updated_at", "current_leaf"]
    fields = ["owner", "title", "model", "temperature", "pinned", "archived", "created_at", "updated_at"]
    inlines = [MessageInline]
    list_select_related = ["owner"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    @admin.display(description=_("messages"), ordering="message_count")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.message_count  # type: ignore[attr-defined,no-any-return]


class CredentialForm(forms.ModelForm):
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Write-only: leave blank to keep the stored key. Only its last 4 characters are ever shown."),
    )

    class Meta:
        model = Credential
        fields = ["name", "user", "base_url", "is_active"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.instance.encrypted_key and not cleaned.get("api_key"):
            self.add_error("api_key", _("A new credential needs a key."))
        return cleaned

    def save(self, commit: bool = True) -> Credential:
        credential: Credential = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            credential.set_key(self.cleaned_data["api_key"])
        if commit:
            credential.save()
        return credential


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = ["__str__", "user", "base_url", "masked_key", "is_active", "updated_at"]
    list_filter = ["is_active"]
    readonly_fields = ["masked_key", "created_at", "updated_at"]
    raw_id_fields = ["user"]

    @admin.display(description=_("key"))
    def masked_key(self, credential: Credential) -> str:
        return credential.masked_key


@admin.register(ModelSetting)
class ModelSettingAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "offered", "is_default", "max_tokens", "context_tokens"]
    list_editable = ["offered", "max_tokens", "context_tokens"]
    list_filter = ["offered"]
    search_fields = ["name", "label"]


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "user",
        "kind",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "estimated",
        "succeeded",
        "duration_ms",
    ]
    list_filter = ["kind", "model", "estimated", "succeeded", "created_at", ("user", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["user__username", "model"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in UsageRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
