"""
What a button of a task does, read from its ``customId`` (§10.3): opaque in
general, but its family says how it is priced and whether it needs more
input (a modal) before it can be pressed. Unknown families are plain
buttons, priced as "action".
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    """What was asked for; also how it is priced (the price of model ``mj_<action>``)."""

    IMAGINE = "imagine", _("Imagine")
    UPSCALE = "upscale", _("Upscale")
    VARIATION = "variation", _("Variation")
    REROLL = "reroll", _("Reroll")
    ZOOM = "zoom", _("Zoom out")
    PAN = "pan", _("Pan")
    MODAL = "modal", _("Vary region")
    BLEND = "blend", _("Blend")
    DESCRIBE = "describe", _("Describe")
    SHORTEN = "shorten", _("Shorten")
    ACTION = "action", _("Button")


# Searched in order, in the lower-cased customId.
_FAMILIES: list[tuple[str, str]] = [
    ("inpaint", Action.MODAL),
    ("customzoom", Action.ZOOM),
    ("upsample", Action.UPSCALE),
    ("upscale", Action.UPSCALE),
    ("variation", Action.VARIATION),
    ("reroll", Action.REROLL),
    ("outpaint", Action.ZOOM),
    ("zoom", Action.ZOOM),
    ("pan_", Action.PAN),
    ("promptanalyzer", Action.IMAGINE),
    ("imagine", Action.IMAGINE),
]

# Buttons the gateway answers with code 21: they wait for a prompt (and, for a region, a mask).
_MODAL_FAMILIES = ("inpaint", "customzoom")


def action_of(custom_id: str) -> str:
    name = custom_id.lower()
    for marker, action in _FAMILIES:
        if marker in name:
            return str(action)
    return str(Action.ACTION)


def needs_modal(custom_id: str) -> bool:
    name = custom_id.lower()
    return any(marker in name for marker in _MODAL_FAMILIES)


def needs_mask(custom_id: str) -> bool:
    return "inpaint" in custom_id.lower()


_SPOKEN = [
    ("pan_left", _("Pan left")),
    ("pan_right", _("Pan right")),
    ("pan_up", _("Pan up")),
    ("pan_down", _("Pan down")),
    ("reroll", _("Reroll")),
    ("retry", _("Again")),
]


def name_of(custom_id: str, label: str) -> str:
    """What a button is called for a screen reader: its label, else (an emoji alone) what it does."""
    if label:
        return label
    name = custom_id.lower()
    return str(next((spoken for marker, spoken in _SPOKEN if marker in name), Action(action_of(custom_id)).label))
