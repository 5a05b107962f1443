from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from .models import Conversation


class MessageForm(forms.Form):
    text = forms.CharField(
        label=_("Message"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 1, "placeholder": _("Send a message…"), "autofocus": True}),
    )
    # Fresh for every submit (see Message.client_id); optional for API-style clients.
    client_id = forms.RegexField(regex=r"^[A-Za-z0-9_-]{8,64}$", required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read at form time, not import time, so the limit follows settings.
        self.fields["text"].validators.append(MaxLengthValidator(settings.CHAT_MAX_MESSAGE_CHARS))

    def clean_text(self) -> str:
        # Browsers submit a textarea's line breaks as CRLF.
        text: str = self.cleaned_data["text"].replace("\r\n", "\n")
        if not text.strip():
            raise forms.ValidationError(_("Write something first."))
        return text


class NewConversationForm(MessageForm):
    model = forms.CharField(label=_("Model"), max_length=200, required=False)

    def __init__(self, *args: Any, models: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offered = models

    def clean_model(self) -> str:
        model: str = self.cleaned_data["model"]
        if model and model not in self.offered:
            raise forms.ValidationError(_("This model is not offered."))
        return model


class ConversationSettingsForm(forms.ModelForm[Conversation]):
    class Meta:
        model = Conversation
        fields = ["title", "model", "system_prompt", "temperature"]
        widgets = {
            "model": forms.Select(),
            "system_prompt": forms.Textarea(attrs={"rows": 4}),
            "temperature": forms.NumberInput(attrs={"step": "0.1", "min": "0", "max": "2"}),
        }

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        """``choices``: the offered (model id, display name) pairs; the conversation's own model stays choosable."""
        super().__init__(*args, **kwargs)
        current = self.instance.model if self.instance else ""
        if current and current not in {name for name, _label in choices}:
            choices = [*choices, (current, current)]
        self.fields["model"].widget.choices = choices
        self.offered = {name for name, _label in choices}
        self.fields["temperature"].help_text = _("0 to 2. Blank: the model's default.")

    def clean_model(self) -> str:
        model: str = self.cleaned_data["model"]
        if model not in self.offered:
            raise forms.ValidationError(_("This model is not offered."))
        return model

    def clean_system_prompt(self) -> str:
        prompt: str = self.cleaned_data["system_prompt"]
        if len(prompt) > settings.CHAT_MAX_SYSTEM_PROMPT_CHARS:
            raise forms.ValidationError(
                _("The system prompt is too long (at most %(limit)d characters).")
                % {"limit": settings.CHAT_MAX_SYSTEM_PROMPT_CHARS}
            )
        return prompt

    def clean_temperature(self) -> float | None:
        value: float | None = self.cleaned_data["temperature"]
        if value is not None and not 0 <= value <= 2:
            raise forms.ValidationError(_("Temperature must be between 0 and 2."))
        return value


class PersonalKeyForm(forms.Form):
    api_key = forms.CharField(
        label=_("Your API key"),
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_("Used instead of the site's key for your own calls. Stored encrypted; never shown again."),
    )
