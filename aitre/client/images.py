"""
POST /v1/images/generations: gpt-image-1, DALL·E 3 and Flux behind one path,
the model's name choosing the engine; each family takes its own parameters
(``FAMILIES``, from the API document's §7), and only those are sent.

Every answer is read for both shapes: ``b64_json`` (gpt-image-1 always) and
``url`` (DALL·E by default, Flux on most gateways), which expires within the
hour and must be fetched at once by the caller.
"""

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from .base import BaseClient
from .errors import AitreError

# Image models take minutes at worst (§11): no browser request waits on this.
IMAGE_READ_TIMEOUT = 300.0


@dataclass(frozen=True)
class Choice:
    name: str
    values: tuple[str, ...]
    default: str


@dataclass(frozen=True)
class Family:
    """What one family of image models takes: its choices, how many images, how long a prompt."""

    key: str
    label: str
    max_prompt: int
    max_n: int
    choices: tuple[Choice, ...] = ()
    # The price variant of a call: which choices change what one image costs.
    priced_by: tuple[str, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    # Pairs of choices the model refuses together, each as (name, value).
    exclusive: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = ()

    def choice(self, name: str) -> Choice | None:
        return next((c for c in self.choices if c.name == name), None)

    def clash(self, params: dict[str, Any]) -> tuple[tuple[str, str], tuple[str, str]] | None:
        """The first pair of ``params`` this model does not take together, else None."""
        return next((pair for pair in self.exclusive if all(params.get(name) == value for name, value in pair)), None)

    def variant(self, params: dict[str, Any]) -> str:
        return " ".join(str(params[name]) for name in self.priced_by if params.get(name))


FAMILIES = {
    "gpt-image": Family(
        "gpt-image",
        "gpt-image-1",
        max_prompt=32000,
        max_n=10,
        choices=(
            Choice("size", ("auto", "1024x1024", "1536x1024", "1024x1536"), "auto"),
            Choice("quality", ("auto", "low", "medium", "high"), "auto"),
            Choice("background", ("auto", "transparent", "opaque"), "auto"),
            Choice("output_format", ("png", "jpeg", "webp"), "png"),
        ),
        priced_by=("size", "quality"),
        # JPEG has no transparency: the API refuses the pair (§7).
        exclusive=((("background", "transparent"), ("output_format", "jpeg")),),
    ),
    "dall-e-3": Family(
        "dall-e-3",
        "DALL·E 3",
        max_prompt=4000,
        max_n=1,
        choices=(
            Choice("size", ("1024x1024", "1792x1024", "1024x1792"), "1024x1024"),
            Choice("quality", ("standard", "hd"), "standard"),
            Choice("style", ("vivid", "natural"), "vivid"),
        ),
        priced_by=("size", "quality"),
        # Asked as base64: a URL would have to be fetched again before it expires.
        fixed={"response_format": "b64_json"},
    ),
    "flux": Family(
        "flux",
        "Flux",
        max_prompt=1000,
        max_n=4,
        choices=(Choice("size", ("1024x1024", "1024x768", "768x1024"), "1024x1024"),),
        priced_by=("size",),
    ),
    # Any other image model: the parameters every generator takes.
    "other": Family(
        "other",
        "",
        max_prompt=4000,
        max_n=4,
        choices=(Choice("size", ("1024x1024", "1792x1024", "1024x1792"), "1024x1024"),),
        priced_by=("size",),
    ),
}


def family_of(model: str) -> Family:
    name = model.lower()
    if "gpt-image" in name:
        return FAMILIES["gpt-image"]
    if "dall-e-3" in name or "dalle-3" in name or "dall-e" in name:
        return FAMILIES["dall-e-3"]
    if "flux" in name:
        return FAMILIES["flux"]
    return FAMILIES["other"]


@dataclass(frozen=True)
class GeneratedImage:
    """One image of an answer: its bytes, or a URL to fetch them from at once."""

    data: bytes | None = None
    url: str = ""
    revised_prompt: str = ""


@dataclass(frozen=True)
class ImagesResult:
    images: list[GeneratedImage]
    # gpt-image-1 reports tokens; the others nothing (they are priced per image).
    input_tokens: int = 0
    output_tokens: int = 0


def _image(item: Any) -> GeneratedImage | None:
    if not isinstance(item, dict):
        return None
    revised = str(item.get("revised_prompt") or "")
    if isinstance(item.get("b64_json"), str) and item["b64_json"]:
        try:
            return GeneratedImage(data=base64.b64decode(item["b64_json"], validate=True), revised_prompt=revised)
        except (binascii.Error, ValueError):
            return None
    if isinstance(item.get("url"), str) and item["url"].startswith(("https://", "http://")):
        return GeneratedImage(url=item["url"], revised_prompt=revised)
    return None


class ImageGeneration(BaseClient):
    def generate_images(self, payload: dict[str, Any]) -> ImagesResult:
        response = self._request("POST", "/v1/images/generations", json_body=payload, read_timeout=IMAGE_READ_TIMEOUT)
        with response:
            data = self._json(response)
        items = data.get("data") if isinstance(data, dict) else None
        images = [image for item in items or [] if (image := _image(item)) is not None]
        if not images:
            raise AitreError(_("The API answered without an image. Nothing was charged for it; you can try again."))
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return ImagesResult(
            images, input_tokens=int(usage.get("input_tokens") or 0), output_tokens=int(usage.get("output_tokens") or 0)
        )
