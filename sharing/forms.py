from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ShareLink


class ShareForm(forms.Form):
    audience = forms.ChoiceField(
        label=_("Who can open it"),
        choices=ShareLink.Audience.choices,
        initial=ShareLink.Audience.ANYONE,
        widget=forms.RadioSelect,
    )
    expires_in = forms.ChoiceField(label=_("Expires"), choices=ShareLink.EXPIRY_CHOICES, required=False, initial="7")
    include_system_prompt = forms.BooleanField(
        label=_("Include the system prompt"),
        required=False,
        help_text=_("Left out unless you tick this. Usage, costs and settings are never shared."),
    )
