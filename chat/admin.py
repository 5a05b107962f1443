from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import privacy, reports
from .models import (
    ContentAccess,
    Conversation,
    Credential,
    Message,
    ModelSetting,
    Price,
    Quota,
    QuotaTopUp,
    UsageRecord,
    usage_day,
)
from .usage import format_money


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are history: shown, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    change_form_template = "admin/chat/conversation/change_form.html"
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

    def get_urls(self) -> list[URLPattern]:
        transcript = path(
            "<int:pk>/messages/", self.admin_site.admin_view(self.transcript), name="chat_conversation_transcript"
        )
        return [transcript, *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        extra_context = {**(extra_context or {}), "can_read_content": privacy.can_read_content(request.user)}
        return super().change_view(request, object_id, form_url, extra_context)

    def transcript(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A conversation's text, for admins granted the permission; every reading is recorded."""
        conversation = get_object_or_404(Conversation.objects.select_related("owner"), pk=pk)
        if not privacy.can_read_content(request.user):
            raise PermissionDenied(_("Reading messages needs the permission to read users' conversations."))
        privacy.record_access(request.user, conversation)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Messages of %(title)s") % {"title": conversation.display_title},
            "opts": self.model._meta,
            "conversation": conversation,
            "thread": conversation.thread(),
        }
        return TemplateResponse(request, "admin/chat/conversation/transcript.html", context)


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
class UsageRecordAdmin(ReadOnlyAdmin):
    """Single calls, read-only (history must not change), and the usage dashboard."""

    change_list_template = "admin/chat/usagerecord/change_list.html"
    list_display = [
        "created_at",
        "user",
        "kind",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost_display",
        "estimated",
        "succeeded",
        "duration_ms",
    ]
    list_filter = ["kind", "model", "estimated", "succeeded", "created_at", ("user", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["user__username", "model"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in UsageRecord._meta.fields]

    @admin.display(description=_("cost"), ordering="cost")
    def cost_display(self, record: UsageRecord) -> str:
        return format_money(record.cost)

    def get_urls(self) -> list[URLPattern]:
        dashboard = path("dashboard/", self.admin_site.admin_view(self.dashboard), name="chat_usage_dashboard")
        return [dashboard, *super().get_urls()]

    def dashboard(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        presets = reports.presets(usage_day(timezone.now()))
        form = reports.UsageFilterForm(request.GET)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": _("Usage dashboard"),
                "opts": self.model._meta,
                "form": form,
                "presets": presets,
            }
            return TemplateResponse(request, "admin/chat/usage_dashboard.html", context, status=400)
        selection = reports.UsageFilter.from_form(form)
        if request.GET.get("format") == "csv":
            response = StreamingHttpResponse(reports.csv_lines(selection), content_type="text/csv; charset=utf-8")
            filename = f"usage-{selection.start:%Y%m%d}-{selection.end:%Y%m%d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        days = selection.day_totals()
        measure = form.cleaned_data.get("chart") or "tokens"
        summary = reports.Summary.of(days)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Usage dashboard"),
            "opts": self.model._meta,
            # The range in effect is shown, also when it was left to its default.
            "form": reports.UsageFilterForm(
                initial={**form.cleaned_data, "user": selection.user.get_username() if selection.user else ""}
            ),
            "presets": presets,
            "selection": selection,
            "measure": measure,
            "totals": summary.totals,
            "chart": summary.chart(selection, measure),
            "by_user": reports.top_users(days),
            "by_model": summary.by_model,
            "by_kind": summary.by_kind,
            "near_cap": reports.near_cap() if selection.user is None else [],
            "conversations": reports.conversations(selection) if selection.user is not None else [],
            "calls": reports.calls(selection) if selection.user is not None else [],
            "kinds": dict(UsageRecord.Kind.choices),
            "query": request.GET.urlencode(),
            "csv_query": _with(request.GET, format="csv"),
            "currency": settings.USAGE_CURRENCY,
        }
        return TemplateResponse(request, "admin/chat/usage_dashboard.html", context)


def _with(query: QueryDict, **changes: str) -> str:
    copy = query.copy()
    for key, value in changes.items():
        copy[key] = value
    return copy.urlencode()


@admin.register(ContentAccess)
class ContentAccessAdmin(ReadOnlyAdmin):
    """The audit log: read-only, for everyone who may see it, deletable by no one."""

    list_display = ["created_at", "reader_name", "owner", "conversation_title"]
    list_filter = ["created_at"]
    search_fields = ["reader_name", "owner__username", "conversation_title"]
    list_select_related = ["owner"]


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["model", "variant", "unit", "input_price", "output_price", "unit_price", "updated_at"]
    list_filter = ["unit"]
    search_fields = ["model", "variant"]
    fieldsets = [
        (None, {"fields": ["model", "variant", "unit"]}),
        (_("Per million tokens"), {"fields": ["input_price", "output_price"]}),
        (_("Per unit"), {"fields": ["unit_price"]}),
    ]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        currency = settings.USAGE_CURRENCY
        for name in ("input_price", "output_price", "unit_price"):
            form.base_fields[name].label = f"{form.base_fields[name].label} ({currency})"
        return form


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["__str__", "measure", "period", "token_limit", "cost_limit", "updated_at"]
    list_filter = ["measure", "period"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


@admin.register(QuotaTopUp)
class QuotaTopUpAdmin(admin.ModelAdmin):
    list_display = ["user", "tokens", "cost", "note", "granted_by", "created_at"]
    search_fields = ["user__username", "note"]
    raw_id_fields = ["user"]
    fields = ["user", "tokens", "cost", "note", "granted_by", "created_at"]
    # A top-up counts in the period it is granted in: now, by whoever grants it.
    readonly_fields = ["granted_by", "created_at"]
    list_select_related = ["user", "granted_by"]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs["help_texts"] = {
            "tokens": _("Counts for a limit in tokens."),
            "cost": _("Counts for a limit in cost, in %(currency)s.") % {"currency": settings.USAGE_CURRENCY},
        }
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request: HttpRequest, obj: QuotaTopUp, form: Any, change: bool) -> None:
        if not change:
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)
