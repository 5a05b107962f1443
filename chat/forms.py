from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from files import policy, store
from files.images import BadImage, NormalisedImage
from files.models import StoredFile
from lib.forms import SentWhole

from .models import Conversation


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImagesField(forms.FileField):
    """Any number of uploaded files (one field, ``multiple``); each is checked by ``MessageForm``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, (list, tuple)):
            return [super(ImagesField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


class MessageForm(forms.Form):
    text = forms.CharField(
        label=_("Message"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 1, "placeholder": _("Send a message…"), "autofocus": True}),
    )
    # Fresh for every submit (see Message.client_id); optional for API-style clients.
    client_id = forms.RegexField(regex=r"^[A-Za-z0-9_-]{8,64}$", required=False, widget=forms.HiddenInput)
    images = ImagesField(label=_("Images"), required=False)
    # Images already in the user's library ("use in chat" from the studio or the library).
    attach = forms.Field(required=False, widget=forms.MultipleHiddenInput)

    def __init__(self, *args: Any, owner: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        # Read at form time, not import time, so the limit follows settings.
        self.fields["text"].validators.append(MaxLengthValidator(settings.CHAT_MAX_MESSAGE_CHARS))

    def clean_text(self) -> str:
        # Browsers submit a textarea's line breaks as CRLF.
        return str(self.cleaned_data["text"]).replace("\r\n", "\n")

    def clean_images(self) -> list[tuple[str, NormalisedImage]]:
        """
        Each upload decoded and normalised (files.images), named in the error
        when it is refused. Nothing is stored here: that waits until the send
        is admitted.
        """
        uploads = self.cleaned_data["images"]
        limits = policy.current()
        if len(uploads) > limits.max_images_per_message:
            raise forms.ValidationError(
                _("At most %(limit)d images can go with one message.") % {"limit": limits.max_images_per_message}
            )
        checked, errors = [], []
        for upload in uploads:
            name = str(upload.name or "")
            try:
                if upload.size > limits.max_upload_bytes:
                    # Refused before reading it: the size is known.
                    raise BadImage(
                        name,
                        _("it is larger than %(limit)d MB, the most an image may be.")
                        % {"limit": limits.max_upload_mb},
                    )
                checked.append((name, store.check_image(upload.read(), name)))
            except BadImage as refused:
                errors.append(refused.message)
        if errors:
            raise forms.ValidationError(errors)
        return checked

    def clean_attach(self) -> list[StoredFile]:
        """The owner's own images only: an id that is not theirs is refused like one that does not exist."""
        values = self.cleaned_data["attach"] or []
        if isinstance(values, str):
            values = [values]
        if not values:
            return []
        found = StoredFile.objects.for_user(self.owner).images().by_ids(values) if self.owner is not None else None
        if found is None:
            raise forms.ValidationError(_("An attached image was not found."))
        return found

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        has_images = cleaned.get("images") or cleaned.get("attach") or self.has_error("images")
        if "text" in cleaned and not cleaned["text"].strip() and not has_images:
            self.add_error("text", _("Write something first."))
        limit = policy.current().max_images_per_message
        if len(cleaned.get("images") or []) + len(cleaned.get("attach") or []) > limit:
            self.add_error("images", _("At most %(limit)d images can go with one message.") % {"limit": limit})
        return cleaned


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


class ConversationSettingsForm(SentWhole, forms.ModelForm[Conversation]):
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
