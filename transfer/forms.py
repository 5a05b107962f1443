from django import forms
from django.utils.translation import gettext_lazy as _


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File to import"),
        help_text=_(
            "An export of this site (its zip, its conversations.json or one conversation's .json), "
            "or ChatGPT's export (its zip, or the conversations.json inside)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.zip,application/json,application/zip"}),
    )
