"""
Whose voice, which models: a person's own choices over the admin's
defaults, each model checked against what the catalogue offers for its
capability (a model without text to speech is never asked to speak).
"""

from dataclasses import dataclass
from decimal import Decimal

from accounts.models import User
from aitre import catalog
from aitre.capabilities import Capability
from lib.remembered import RememberedRow

from .models import VoiceDefaults, VoicePreference

_defaults = RememberedRow(VoiceDefaults)
defaults = _defaults.current
forget = _defaults.forget


@dataclass(frozen=True)
class Voice:
    speech_model: str
    voice: str
    speed: Decimal
    transcription_model: str
    language: str
    auto_send: bool
    # Why there is no model to speak or to listen with, when there is none.
    speech_problem: str = ""
    transcription_problem: str = ""


def _pick(offer: catalog.Offer, *preferred: str) -> str:
    return next((name for name in preferred if name and name in offer.names), offer.default)


def preference_of(user: User) -> VoicePreference:
    return VoicePreference.objects.filter(user=user).first() or VoicePreference(user=user)


@dataclass(frozen=True)
class Available:
    speech: bool
    transcription: bool


def available(user: User) -> Available:
    """Whether the chat page shows Read aloud and the microphone: from the catalogue alone (no settings read)."""
    return Available(
        speech=bool(catalog.offer(user, Capability.SPEECH).choices),
        transcription=bool(catalog.offer(user, Capability.TRANSCRIPTION).choices),
    )


def for_user(user: User) -> Voice:
    site = defaults()
    mine = preference_of(user)
    speaking = catalog.offer(user, Capability.SPEECH)
    listening = catalog.offer(user, Capability.TRANSCRIPTION)
    return Voice(
        speech_model=_pick(speaking, mine.speech_model, site.speech_model),
        voice=mine.voice or site.voice,
        speed=Decimal(mine.speed if mine.speed is not None else site.speed),
        transcription_model=_pick(listening, site.transcription_model),
        language=mine.language,
        auto_send=mine.auto_send,
        speech_problem=speaking.problem,
        transcription_problem=listening.problem,
    )
