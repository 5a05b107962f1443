"""The usage dashboard's filters: a date range (with presets), a user, a model and a kind of call."""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import UsageRecord, usage_day

# The longest range one request may sum: bounded work, whatever is asked.

MAX_RANGE_DAYS = 731

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class UsageFilterForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=DATE_INPUT)
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=DATE_INPUT)
    user = forms.CharField(label=gettext_lazy("User"), max_length=150, required=False)
    model = forms.CharField(label=gettext_lazy("Model"), max_length=200, required=False)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=[("", gettext_lazy("all")), *UsageRecord.Kind.choices], required=False
    )
    chart = forms.ChoiceField(
        label=gettext_lazy("Chart"),
        choices=[("tokens", gettext_lazy("tokens")), ("cost", gettext_lazy("cost"))],
        required=False,
    )

    def clean_user(self) -> Any:
        username = self.cleaned_data["user"].strip()
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise forms.ValidationError(_("No user is called %(name)s.") % {"name": username}) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        today = usage_day(timezone.now())
        end = cleaned.get("end") or today
        start = cleaned.get("start") or end - timedelta(days=29)
        if start > end:
            raise forms.ValidationError(_("The range must start before it ends."))
        if (end - start).days >= MAX_RANGE_DAYS:
            raise forms.ValidationError(_("Choose a range of at most %(days)s days.") % {"days": MAX_RANGE_DAYS})
        cleaned["start"], cleaned["end"] = start, end
        return cleaned


def presets(today: date) -> list[tuple[str, str, str]]:
    """Common ranges, as (label, first day, last day)."""
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    ranges = [
        (_("last 7 days"), today - timedelta(days=6), today),
        (_("last 30 days"), today - timedelta(days=29), today),
        (_("last week"), monday - timedelta(days=7), monday - timedelta(days=1)),
        (_("this month"), first_of_month, today),
        (_("last month"), last_month_end.replace(day=1), last_month_end),
    ]
    return [(label, start.isoformat(), end.isoformat()) for label, start, end in ranges]
