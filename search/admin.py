"""
The admin's search settings: the embedding model (re-indexing in the
background when it changes), and how far indexing has got and what it has
cost. Passages themselves are not listed: they are message text, which
admins read only with a permission (see chat.privacy).
"""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from aitre import catalog
from aitre.capabilities import Capability
from usage.models import UsageRecord

from . import embedding
from .models import Passage, SearchSettings


class SearchSettingsForm(forms.ModelForm[SearchSettings]):
    class Meta:
        model = SearchSettings
        fields = ["embedding_model", "dimensions", "batch_size"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offered = catalog.offered_models(None, Capability.EMBEDDINGS)
        current = self.instance.embedding_model
        names = offered + ([current] if current and current not in offered else [])
        self.fields["embedding_model"] = forms.ChoiceField(
            label=_("embedding model"),
            choices=[("", _("The first model offered"))] + [(name, name) for name in names],
            required=False,
            help_text=SearchSettings._meta.get_field("embedding_model").help_text,
        )

    def clean_embedding_model(self) -> str:
        chosen = str(self.cleaned_data["embedding_model"])
        if chosen and chosen not in catalog.offered_models(None, Capability.EMBEDDINGS):
            raise forms.ValidationError(_("This model is not offered with the embeddings capability."))
        return chosen


@admin.register(SearchSettings)
class SearchSettingsAdmin(admin.ModelAdmin[SearchSettings]):
    form = SearchSettingsForm
    list_display = ["__str__", "embedding_model", "dimensions", "batch_size", "indexed", "indexing_cost"]
    readonly_fields = ["indexed", "indexing_cost"]
    actions = ["reindex_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SearchSettings.objects.exists()

    @admin.display(description=_("indexed by meaning"))
    def indexed(self, obj: SearchSettings) -> str:
        space = embedding.vector_space()
        in_space = Q(vector_model=space.model, vector_dimensions=space.dimensions) if space else Q(pk__in=[])
        counts = Passage.objects.aggregate(total=Count("pk"), done=Count("pk", filter=in_space))
        return f"{counts['done']:,} / {counts['total']:,} ({space.model if space else _('no model offered')})"

    @admin.display(description=_("cost of indexing"))
    def indexing_cost(self, obj: SearchSettings) -> str:
        spent = UsageRecord.objects.filter(kind=UsageRecord.Kind.EMBEDDING, variant="indexing").aggregate(
            cost=Sum("cost"), tokens=Sum("prompt_tokens")
        )
        return f"{spent['cost'] or Decimal(0):.4f} ({spent['tokens'] or 0:,} tokens)"

    def save_model(self, request: HttpRequest, obj: SearchSettings, form: Any, change: bool) -> None:
        before = embedding.vector_space()
        super().save_model(request, obj, form, change)
        embedding.forget_settings()
        if embedding.vector_space() != before:
            embedding.reindex_passages.enqueue()
            self.message_user(
                request,
                _("The embedding model or the vector length changed: every passage is re-indexed in the background."),
            )

    @admin.action(description=_("Re-index every passage with the current model"))
    def reindex_now(self, request: HttpRequest, queryset: QuerySet[SearchSettings]) -> None:
        embedding.reindex_passages.enqueue()
        self.message_user(request, _("Re-indexing was queued for the worker."), messages.SUCCESS)
