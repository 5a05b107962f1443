from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import catalog
from .capabilities import Capability
from .models import Credential, ModelSetting


class CredentialForm(forms.ModelForm[Credential]):
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
class CredentialAdmin(admin.ModelAdmin[Credential]):
    form = CredentialForm
    list_display = ["__str__", "user", "base_url", "masked_key", "is_active", "updated_at"]
    list_filter = ["is_active"]
    readonly_fields = ["masked_key", "created_at", "updated_at"]
    raw_id_fields = ["user"]

    @admin.display(description=_("key"))
    def masked_key(self, credential: Credential) -> str:
        return credential.masked_key


class OutputWithinContext(forms.ModelForm[ModelSetting]):
    """The output limit must leave room for a prompt in the context, whoever set the context."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        max_tokens = cleaned.get("max_tokens")
        probe = ModelSetting(
            context_tokens=cleaned.get("context_tokens"), reported_context_tokens=self.instance.reported_context_tokens
        )
        context = probe.effective_context_tokens
        if max_tokens and max_tokens >= context:
            self.add_error(
                "max_tokens",
                _("The output limit must be smaller than the context (%(context)s tokens).")
                % {"context": number_format(context, force_grouping=True)},
            )
        return cleaned


class ModelSettingForm(OutputWithinContext):
    capabilities = forms.MultipleChoiceField(
        label=_("capabilities"),
        choices=Capability.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the model is offered for. Guessed from its name when first seen; yours to correct."),
    )

    class Meta:
        model = ModelSetting
        fields = ["name", "label", "offered", "is_default", "capabilities", "max_tokens", "context_tokens"]

    def clean_capabilities(self) -> list[str]:
        # In the enum's order, so the same set is always stored the same way.
        chosen = set(self.cleaned_data["capabilities"])
        return [value for value in Capability.values if value in chosen]


class ModelSettingListForm(OutputWithinContext):
    """The list's editable columns: narrow inputs, so the row fits a laptop's screen."""

    class Meta:
        model = ModelSetting
        fields = ["offered", "max_tokens", "context_tokens"]
        widgets = {
            "max_tokens": forms.NumberInput(attrs={"class": "limit-input"}),
            "context_tokens": forms.NumberInput(attrs={"class": "limit-input"}),
        }


class CapabilityFilter(admin.SimpleListFilter):
    title = _("capability")
    parameter_name = "can"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in Capability.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ModelSetting]) -> QuerySet[ModelSetting]:
        if not self.value():
            return queryset
        # A few hundred rows at most, and JSON containment differs per database: filter here.
        return queryset.filter(pk__in=[s.pk for s in queryset if s.can(str(self.value()))])


@admin.register(ModelSetting)
class ModelSettingAdmin(admin.ModelAdmin[ModelSetting]):
    form = ModelSettingForm
    list_display = [
        "model_column",
        "capability_list",
        "offered",
        "discovered",
        "is_default",
        "context_in_use",
        "context_tokens",
        "max_tokens",
    ]
    list_editable = ["offered", "max_tokens", "context_tokens"]
    list_filter = ["offered", "discovered", CapabilityFilter]
    search_fields = ["name", "label"]
    ordering = ["name"]
    readonly_fields = ["reported_context_tokens", "reported_max_output_tokens", "limits_in_use"]

    class Media:
        css = {"all": ["aitre/admin.css"]}

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm[ModelSetting]]:
        return ModelSettingListForm

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The list is only as true as the API's: say when it could not be fetched.
        problem = catalog.listing().problem
        if problem and request.method == "GET":
            messages.warning(request, problem)
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("model"), ordering="name")
    def model_column(self, setting: ModelSetting) -> str:
        if not setting.label:
            return setting.name
        return format_html('{}<span class="label">{}</span>', setting.name, setting.label)

    @admin.display(description=_("capabilities"))
    def capability_list(self, setting: ModelSetting) -> str:
        labels = dict(Capability.choices)
        return ", ".join(str(labels.get(value, value)) for value in setting.capabilities) or "—"

    @admin.display(description=_("context in use"))
    def context_in_use(self, setting: ModelSetting) -> str:
        if setting.context_tokens:
            source = _("yours")
        elif setting.reported_context_tokens:
            source = _("server")
        elif setting.context_known:
            source = _("published")
        else:
            # Nobody said: the site assumes its default, and asks for modest replies.
            return str(
                _("unknown (assumed %(context)s)")
                % {"context": number_format(setting.effective_context_tokens, force_grouping=True)}
            )
        return f"{number_format(setting.effective_context_tokens, force_grouping=True)} ({source})"

    @admin.display(description=_("limits in use"))
    def limits_in_use(self, setting: ModelSetting) -> str:
        if not setting.context_known:
            return str(
                _(
                    "The server does not say how long this model's context is: the site assumes %(context)s "
                    "tokens and asks for replies of up to %(output)s. Set the context above if you know it."
                )
                % {
                    "context": number_format(setting.effective_context_tokens, force_grouping=True),
                    "output": number_format(setting.effective_max_tokens, force_grouping=True),
                }
            )
        return str(
            _("context %(context)s tokens, replies up to %(output)s tokens")
            % {
                "context": number_format(setting.effective_context_tokens, force_grouping=True),
                "output": number_format(setting.effective_max_tokens, force_grouping=True),
            }
        )
