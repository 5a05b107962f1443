"""
Images in chat messages: kept as the user's files (``files``), referred to
from a message's ``parts``, and sent to vision models as data URLs (the
upstream cannot reach a private site, and a signed URL would expire).

A stored part is ``{"type": "image_url", "file": <id>, "name", "width",
"height"}``: the type the API uses, so token counts treat it as an image,
with the file in place of the URL until the payload is built.
"""

import base64
import re
from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from aitre.capabilities import Capability
from aitre.models import ModelSetting
from files.images import NormalisedImage
from files.models import StoredFile
from lib.refusals import Refusal


class ImagesNotAccepted(Refusal):
    """The model cannot take images (it lacks the vision capability)."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return _("%(model)s does not take images. Pick a model that can see them, or send the text alone.") % {
            "model": self.model
        }


def check_model_takes(setting: ModelSetting, parts: Iterable[dict[str, Any]]) -> None:
    if any(is_image(part) for part in parts) and not setting.can(Capability.VISION):
        raise ImagesNotAccepted(setting.name)


def is_image(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url" and "file" in part


def pending_parts(images: Iterable[tuple[str, NormalisedImage]]) -> list[dict[str, Any]]:
    """The parts of images not yet stored: enough to count them against the context."""
    return [{"type": "image_url", "file": "", "width": image.width, "height": image.height} for _name, image in images]


def part_for(stored: StoredFile) -> dict[str, Any]:
    return {
        "type": "image_url",
        "file": str(stored.pk),
        "name": stored.name,
        "width": stored.width,
        "height": stored.height,
    }


# A Markdown link to a picture kept by the site (chat.pictures writes them as files:serve URLs).
_KEPT_LINK = re.compile(r"!?\[([^\]]*)\]\(/files/([0-9a-f-]{36})\)")


def kept_pictures_of(text: str) -> tuple[str, list[dict[str, Any]]]:
    """
    A reply's text without the links to the pictures the site kept for it
    (an image link becomes its alt text in brackets, a download link goes),
    and those pictures as image parts, each once, in order.
    """
    found: dict[str, dict[str, Any]] = {}

    def unlink(match: re.Match[str]) -> str:
        alt, file_id = match.group(1), match.group(2)
        found.setdefault(file_id, {"type": "image_url", "file": file_id, "name": alt})
        return f"[{alt or _('picture')}]" if match.group(0).startswith("!") else ""

    if "/files/" not in text:
        return text, []
    return _KEPT_LINK.sub(unlink, text).strip(), list(found.values())


def without_images(parts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [part for part in parts if not is_image(part)]


def api_contents(contents: list[Any], owner_id: int) -> list[Any]:
    """
    Message contents as the API takes them: each image read from storage as
    a data URL, the files of all of them looked up in one query. An image
    deleted since (from the media library) is left out.
    """
    ids = [part["file"] for content in contents if isinstance(content, list) for part in content if is_image(part)]
    found = {str(f.pk): f for f in StoredFile.objects.filter(pk__in=ids, owner_id=owner_id)} if ids else {}
    return [content if isinstance(content, str) else _api_parts(content, found) for content in contents]


def _api_parts(parts: list[dict[str, Any]], found: dict[str, StoredFile]) -> list[dict[str, Any]]:
    result = []
    for part in parts:
        if not is_image(part):
            result.append(part)
            continue
        stored = found.get(part["file"])
        if stored is None:
            continue
        encoded = base64.b64encode(stored.read()).decode("ascii")
        result.append({"type": "image_url", "image_url": {"url": f"data:{stored.content_type};base64,{encoded}"}})
    return result


def origin_links(files: list[StoredFile]) -> dict[Any, tuple[str, str]]:
    """The conversation each uploaded or drawn picture belongs to (registered with files.sources)."""
    from .models import Conversation

    ids = {f.origin_id for f in files if f.origin_id}
    owners = {f.owner_id for f in files}
    conversations = {c.pk: c for c in Conversation.objects.filter(pk__in=ids, owner_id__in=owners).only("pk", "title")}
    return {
        f.pk: (conversations[f.origin_id].get_absolute_url(), conversations[f.origin_id].display_title)
        for f in files
        if f.origin_id in conversations
    }


def forget_file(stored: StoredFile) -> None:
    """
    A picture deleted from the media library (registered with files.sources):
    the messages that showed it say it was deleted, rather than show a broken
    image. Its part is marked so (no longer sent to a model); a drawn
    picture's link in a reply becomes a note, and the reply is rendered again.
    """
    from .models import Message
    from .rendering import render_markdown

    if stored.origin_id is None:
        return
    file_id, url = str(stored.pk), stored.get_absolute_url()
    linked = re.compile(r"(!?)\[([^\]]*)\]\(" + re.escape(url) + r"\)")

    def note(match: re.Match[str]) -> str:
        if not match.group(1):
            return ""  # a download link to it: nothing left to download
        name = match.group(2) or _("picture")
        return "*" + _("(The picture “%(name)s” was deleted.)") % {"name": name} + "*"

    messages = Message.objects.filter(conversation_id=stored.origin_id, conversation__owner_id=stored.owner_id)
    for message in messages.only("pk", "role", "content", "parts"):
        changed: dict[str, Any] = {}
        if any(isinstance(part, dict) and part.get("file") == file_id for part in message.parts or []):
            changed["parts"] = [
                {key: value for key, value in part.items() if key != "file"} | {"deleted": True}
                if isinstance(part, dict) and part.get("file") == file_id
                else part
                for part in message.parts
            ]
        if url in message.content:
            changed["content"] = linked.sub(note, message.content)
            if message.role == Message.Role.ASSISTANT:
                changed["rendered"] = render_markdown(changed["content"])
        if changed:
            Message.objects.filter(pk=message.pk).update(**changed)
