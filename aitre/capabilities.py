"""
What a model can do. The model list (GET /v1/models) does not say which
endpoint a model belongs to, so each model setting carries its capabilities:
guessed from the name once, when the model is first seen in the live list,
and changed by the admin from then on. Features ask the catalog for models
with a capability; none guesses from a name at the moment of use.
"""

import re

from django.db import models
from django.utils.translation import gettext_lazy as _


class Capability(models.TextChoices):
    CHAT = "chat", _("chat")
    VISION = "vision", _("image input (vision)")
    IMAGE_OUTPUT = "image_output", _("images in chat replies")
    IMAGE_GENERATION = "image_generation", _("image generation")
    SPEECH = "speech", _("text to speech")
    TRANSCRIPTION = "transcription", _("transcription and translation")
    EMBEDDINGS = "embeddings", _("embeddings")
    COMPLETIONS = "completions", _("legacy completions")
    MIDJOURNEY = "midjourney", _("Midjourney")


# First match wins; patterns are searched in the lower-cased model id.
_GUESSES: list[tuple[str, tuple[Capability, ...]]] = [
    (r"embed", (Capability.EMBEDDINGS,)),
    (r"^tts|[-_]tts|speech", (Capability.SPEECH,)),
    (r"whisper|transcri", (Capability.TRANSCRIPTION,)),
    (r"midjourney|^mj[-_]|^mj$", (Capability.MIDJOURNEY,)),
    (r"gpt-4o-image|gpt-4o-all|image-preview", (Capability.CHAT, Capability.VISION, Capability.IMAGE_OUTPUT)),
    (r"dall-e|gpt-image|flux|stable-diffusion|sdxl|imagen", (Capability.IMAGE_GENERATION,)),
    # OpenAI's instruct model is completions only; the open "-instruct" models are chat models.
    (r"gpt-3\.5-turbo-instruct|davinci|babbage", (Capability.COMPLETIONS,)),
    (
        r"gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-5|vision|claude-3|claude-(sonnet|opus|haiku)|gemini|[-_]vl\b|llava|pixtral",
        (Capability.CHAT, Capability.VISION),
    ),
]


def guess(model_id: str) -> list[str]:
    """A sensible first guess for a model first seen in the live list: the admin corrects it."""
    name = model_id.lower()
    for pattern, capabilities in _GUESSES:
        if re.search(pattern, name):
            return [c.value for c in capabilities]
    return [Capability.CHAT.value]
