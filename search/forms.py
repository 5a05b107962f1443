"""The search page's query and filters, checked: a bad date or page is a clear 400, never a 500."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .engine import MODES, Filters

MAX_QUERY_CHARS = 1000
MAX_PAGE = 100


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=MAX_QUERY_CHARS, strip=False)
    mode = forms.ChoiceField(required=False, choices=[(mode, mode) for mode in MODES])
    since = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    model = forms.CharField(required=False, max_length=200, label=_("Model"))
    pinned = forms.BooleanField(required=False, label=_("Pinned only"))
    archived = forms.ChoiceField(
        required=False,
        label=_("Archived"),
        choices=[("", _("Archived or not")), ("no", _("Not archived")), ("only", _("Archived only"))],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("“From” is after “To”."))
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            since=data.get("since"),
            until=data.get("until"),
            model=data.get("model") or "",
            pinned=bool(data.get("pinned")),
            archived=data.get("archived") or "",
        )
