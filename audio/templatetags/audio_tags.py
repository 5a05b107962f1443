from typing import Any

from django import template

from aitre import catalog
from aitre.capabilities import Capability

from .. import voices
from ..forms import VoicePreferenceForm

register = template.Library()


@register.simple_tag(takes_context=True)
def voice_config(context: Any) -> voices.Voice | None:
    """The person's voice and models, once per page however many times it is asked."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return None
    if not hasattr(request, "_voice"):
        request._voice = voices.for_user(request.user)
    voice: voices.Voice = request._voice
    return voice


@register.simple_tag(takes_context=True)
def voice_settings_form(context: Any) -> VoicePreferenceForm:
    user = context["request"].user
    offer = catalog.offer(user, Capability.SPEECH)
    return VoicePreferenceForm(instance=voices.preference_of(user), speech_models=offer.choices)
