from django import forms
from django.utils.translation import gettext_lazy as _


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File to import"),
        help_text=_(
            "An export of this site (conversations.json or one conversation's .json), or ChatGPT's conversations.json."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )
