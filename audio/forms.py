from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from aitre.client.audio import SPEED_RANGE
from lib.forms import SentWhole

from .models import VOICE_CHOICES, VoiceDefaults, VoicePreference

# ISO-639-1 codes Whisper knows, the common ones first; blank lets the API detect.
LANGUAGES = [
    ("", _("Detect")),
    ("en", "English"),
    ("zh", "中文"),
    ("es", "Español"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("pt", "Português"),
    ("it", "Italiano"),
    ("ru", "Русский"),
    ("ar", "العربية"),
    ("hi", "हिन्दी"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("tr", "Türkçe"),
    ("uk", "Українська"),
    ("vi", "Tiếng Việt"),
]
LANGUAGE_CODES = {code for code, _label in LANGUAGES}


class VoicePreferenceForm(SentWhole, forms.ModelForm[VoicePreference]):
    """A person's voice: blank choices follow the admin's defaults."""

    speech_model = forms.ChoiceField(label=_("Text-to-speech model"), required=False)
    voice = forms.ChoiceField(label=_("Voice"), required=False, choices=[("", _("Site default")), *VOICE_CHOICES])
    speed = forms.DecimalField(
        label=_("Speed"),
        required=False,
        min_value=SPEED_RANGE[0],
        max_value=SPEED_RANGE[1],
        decimal_places=2,
        help_text=_("0.25 to 4; blank for the site's default."),
    )
    language = forms.ChoiceField(label=_("Dictation language"), required=False, choices=LANGUAGES)

    class Meta:
        model = VoicePreference
        fields = ["speech_model", "voice", "speed", "language", "auto_send"]

    def __init__(
        self, *args: Any, speech_models: list[tuple[str, str]], site: VoiceDefaults | None = None, **kwargs: Any
    ) -> None:
        """``site``: the admin's defaults, named in the choices that follow them ("Site default (alloy)")."""
        super().__init__(*args, **kwargs)
        field = self.fields["speech_model"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _site_default(site.speech_model if site else "")), *speech_models]
        voice = self.fields["voice"]
        assert isinstance(voice, forms.ChoiceField)
        voice.choices = [("", _site_default(site.voice if site else "")), *VOICE_CHOICES]
        if site is not None:
            self.fields["speed"].help_text = _("0.25 to 4; blank for the site's default (%(speed)s).") % {
                "speed": site.speed
            }


def _site_default(value: Any) -> str:
    return str(_("Site default (%(value)s)") % {"value": value}) if value else str(_("Site default"))


class TranscriptionForm(forms.Form):
    file = forms.FileField(
        label=_("Audio file"),
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*,video/mp4,.flac,.mp3,.mp4,.m4a,.ogg,.wav,.webm"}),
    )
    task = forms.ChoiceField(
        label=_("Make"),
        choices=[("transcribe", _("A transcript in the language spoken")), ("translate", _("An English translation"))],
        initial="transcribe",
    )
    language = forms.ChoiceField(label=_("Language spoken"), required=False, choices=LANGUAGES)
    prompt = forms.CharField(
        label=_("Prompt"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional: names and words to spell right, or the style to follow."),
    )


class DictationForm(forms.Form):
    audio = forms.FileField()
