"""
Pictures in chat replies. A model with the image-output capability
(``gpt-4o-image`` and its kind) answers with Markdown links to images on
its own servers, which expire within the hour. When such a reply finishes,
every picture it links is fetched (files.downloads, bounded), checked and
kept as the user's file, and the reply's text is rewritten to point at the
kept copy: after an hour, after a reload, in an export, the picture is
still there, and the streamed page and the reloaded one look the same.
"""

import logging
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from accounts.models import User
from aitre.credentials import endpoint_for
from files import downloads, policy, store
from files.images import BadImage
from files.models import StoredFile

logger = logging.getLogger(__name__)

# Images first (![alt](url)), then plain links ([label](url)) to the same kind of file.
_IMAGE_LINK = re.compile(r"!\[[^\]]*\]\((https?://[^)\s]+)\)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((https?://[^)\s]+)\)")
_IMAGE_PATH = re.compile(r"\.(png|jpe?g|webp|gif)(\?|$)", re.IGNORECASE)
# A reply links a few pictures at most; more is not a picture reply.
MAX_PICTURES = 8


def linked_pictures(text: str) -> list[str]:
    """The picture URLs of a reply, in order, each once: every image link, and plain links to image files."""
    urls = [m.group(1) for m in _IMAGE_LINK.finditer(text)]
    urls += [m.group(1) for m in _LINK.finditer(text) if _IMAGE_PATH.search(m.group(1))]
    return list(dict.fromkeys(urls))[:MAX_PICTURES]


@dataclass(frozen=True)
class Drawn:
    """A picture reply after its pictures were kept: its text, how many were kept, and what went wrong."""

    text: str
    kept: int
    problem: str = ""

    @property
    def failure(self) -> str:
        """Why nothing was delivered, for a reply that kept no picture."""
        if self.problem:
            return _("The picture could not be kept: %(reason)s") % {"reason": self.problem}
        return _("The model answered without a picture: nothing was made, and nothing is charged.")


def keep_pictures(text: str, *, user: User, conversation_id: int, model: str, prompt: str) -> Drawn:
    """
    ``text`` with each linked picture replaced by the site's kept copy. A
    picture that cannot be kept keeps its link (shown as a link, never
    loaded from elsewhere), and a line under the reply says why.
    """
    urls = linked_pictures(text)
    if not urls:
        return Drawn(text, 0)
    api_origin, _key = endpoint_for(user)
    limits = policy.current()
    problems, kept_count = [], 0
    for url in urls:
        try:
            data = downloads.fetch(url, max_bytes=limits.max_upload_bytes, trusted_origin=api_origin)
            # Generated pictures are kept at full size: the limit is for what is sent to models.
            image = store.check_image(data, model or "image", max_long_side=4096)
            kept = store.keep_image(
                user.pk, image, model, StoredFile.Source.CHAT, model=model, prompt=prompt, origin_id=conversation_id
            )
        except (downloads.DownloadRefused, BadImage) as exc:
            reason = exc.reason if isinstance(exc, BadImage) else str(exc)
            logger.warning("A picture of a %s reply could not be kept: %s", model, reason)
            problems.append(reason)
            continue
        text = text.replace(url, kept.get_absolute_url())
        kept_count += 1
    if problems and kept_count:
        note = _("A picture in this reply could not be kept: %(reason)s") % {"reason": problems[0]}
        text = f"{text}\n\n*{note}*"
    return Drawn(text, kept_count, problems[0] if problems else "")
