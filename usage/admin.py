from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lib.admin import ReadOnlyAdmin

from . import exports, forms, reports
from .models import Price, Quota, QuotaTopUp, UsageRecord, usage_day
from .quotas import format_money


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    """Single calls, read-only (history must not change), and the usage dashboard."""

    change_list_template = "admin/usage/usagerecord/change_list.html"
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
        dashboard = path("dashboard/", self.admin_site.admin_view(self.dashboard), name="usage_dashboard")
        return [dashboard, *super().get_urls()]

    def dashboard(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        presets = forms.presets(usage_day(timezone.now()))
        form = forms.UsageFilterForm(request.GET)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": _("Usage dashboard"),
                "opts": self.model._meta,
                "form": form,
                "presets": presets,
            }
            return TemplateResponse(request, "admin/usage/usage_dashboard.html", context, status=400)
        selection = reports.UsageFilter.from_form(form)
        if request.GET.get("format") == "csv":
            response = StreamingHttpResponse(exports.csv_lines(selection), content_type="text/csv; charset=utf-8")
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
            "form": forms.UsageFilterForm(
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
            "subjects": reports.subjects_of(selection) if selection.user is not None else [],
            "calls": reports.calls(selection) if selection.user is not None else [],
            "kinds": dict(UsageRecord.Kind.choices),
            "query": request.GET.urlencode(),
            "csv_query": _with(request.GET, format="csv"),
            "currency": settings.USAGE_CURRENCY,
        }
        return TemplateResponse(request, "admin/usage/usage_dashboard.html", context)


def _with(query: QueryDict, **changes: str) -> str:
    copy = query.copy()
    for key, value in changes.items():
        copy[key] = value
    return copy.urlencode()


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin[Price]):
    list_display = ["model", "variant", "unit", "input_price", "output_price", "unit_price", "updated_at"]
    list_filter = ["unit"]
    search_fields = ["model", "variant"]
    fieldsets = [
        (None, {"fields": ["model", "variant", "unit"]}),
        (_("Per million tokens"), {"fields": ["input_price", "output_price"]}),
        (_("Per unit"), {"fields": ["unit_price"]}),
    ]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        currency = settings.USAGE_CURRENCY
        for name in ("input_price", "output_price", "unit_price"):
            form.base_fields[name].label = f"{form.base_fields[name].label} ({currency})"
        return form


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin[Quota]):
    list_display = ["__str__", "measure", "period", "token_limit", "cost_limit", "updated_at"]
    list_filter = ["measure", "period"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


@admin.register(QuotaTopUp)
class QuotaTopUpAdmin(admin.ModelAdmin[QuotaTopUp]):
    list_display = ["user", "tokens", "cost", "note", "granted_by", "created_at"]
    search_fields = ["user__username", "note"]
    raw_id_fields = ["user"]
    fields = ["user", "tokens", "cost", "note", "granted_by", "created_at"]
    # A top-up counts in the period it is granted in: now, by whoever grants it.
    readonly_fields = ["granted_by", "created_at"]
    list_select_related = ["user", "granted_by"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["help_texts"] = {
            "tokens": _("Counts for a limit in tokens."),
            "cost": _("Counts for a limit in cost, in %(currency)s.") % {"currency": settings.USAGE_CURRENCY},
        }
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: QuotaTopUp, form: Any, change: bool) -> None:
        if not change:
            obj.granted_by_id = request.user.pk
        super().save_model(request, obj, form, change)
