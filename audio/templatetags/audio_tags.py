from typing import Any

from django import template

from aitre import catalog
from aitre.capabilities import Capability

from .. import voices
from ..forms import VoicePreferenceForm

register = template.Library()


@register.simple_tag(takes_context=True)
def voice_config(context: Any) -> voices.Available | None:
    """Whether this person may listen and dictate here (the models are chosen when they do)."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return None
    return voices.available(request.user)


@register.simple_tag(takes_context=True)
def voice_settings_form(context: Any) -> VoicePreferenceForm:
    user = context["request"].user
    offer = catalog.offer(user, Capability.SPEECH)
    return VoicePreferenceForm(instance=voices.preference_of(user), speech_models=offer.choices, site=voices.defaults())
