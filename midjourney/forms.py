"""
What the Midjourney page takes, checked before anything is sent or paid:
prompts and their inline options, images from an upload or the media
library (checked by decoding, at the admin's limits), a modal's mask.
"""

import base64
import binascii
import io
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from PIL import Image, UnidentifiedImageError

from accounts.models import User
from files import store
from files.images import BadImage, NormalisedImage
from files.models import StoredFile
from lib.refusals import Refusal

from .models import MidjourneyTask
from .prompts import model_written, with_options

MAX_PROMPT = 4000
ASPECTS = ["", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9"]
VERSIONS = ["", "7", "6.1", "6", "5.2"]
# A modal's mask: a PNG no larger than this, decoded before it is sent.
MAX_MASK_BYTES = 8 * 1024 * 1024


class ImagineForm(forms.Form):
    prompt = forms.CharField(label=gettext_lazy("Prompt"), max_length=MAX_PROMPT, strip=True)
    bot_type = forms.ChoiceField(choices=MidjourneyTask.Bot.choices, initial=MidjourneyTask.Bot.MIDJOURNEY)
    aspect = forms.ChoiceField(choices=[(a, a or gettext_lazy("as written")) for a in ASPECTS], required=False)
    version = forms.ChoiceField(choices=[(v, v or gettext_lazy("default")) for v in VERSIONS], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "prompt" in data:
            # What is written inline wins: "--niji" is sent to, and charged as, the Niji bot.
            written = model_written(data["prompt"])
            if written:
                data["bot_type"] = MidjourneyTask.Bot.NIJI if written == "niji" else MidjourneyTask.Bot.MIDJOURNEY
            data["full_prompt"] = with_options(
                data["prompt"],
                aspect=data.get("aspect") or "",
                version=data.get("version") or "",
                niji=data.get("bot_type") == MidjourneyTask.Bot.NIJI,
            )
        return data


class ShortenForm(forms.Form):
    prompt = forms.CharField(label=gettext_lazy("Prompt"), max_length=MAX_PROMPT, strip=True)
    bot_type = forms.ChoiceField(choices=MidjourneyTask.Bot.choices, initial=MidjourneyTask.Bot.MIDJOURNEY)


class BlendForm(forms.Form):
    bot_type = forms.ChoiceField(choices=MidjourneyTask.Bot.choices, initial=MidjourneyTask.Bot.MIDJOURNEY)
    dimensions = forms.ChoiceField(
        choices=[
            ("SQUARE", gettext_lazy("Square (1:1)")),
            ("PORTRAIT", gettext_lazy("Portrait (2:3)")),
            ("LANDSCAPE", gettext_lazy("Landscape (3:2)")),
        ],
        initial="SQUARE",
    )


class DescribeForm(forms.Form):
    bot_type = forms.ChoiceField(choices=MidjourneyTask.Bot.choices, initial=MidjourneyTask.Bot.MIDJOURNEY)


class ModalForm(forms.Form):
    prompt = forms.CharField(label=gettext_lazy("Prompt"), max_length=MAX_PROMPT, strip=True)
    mask = forms.CharField(required=False)

    def __init__(self, *args: Any, needs_mask: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_mask = needs_mask

    def clean_mask(self) -> str:
        mask = str(self.cleaned_data.get("mask") or "")
        if not mask:
            if self.needs_mask:
                raise ValidationError(_("Paint the region to redraw first."))
            return ""
        prefix = "data:image/png;base64,"
        if not mask.startswith(prefix):
            raise ValidationError(_("The mask must be a PNG image."))
        try:
            data = base64.b64decode(mask[len(prefix) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError(_("The mask could not be read.")) from exc
        if len(data) > MAX_MASK_BYTES:
            raise ValidationError(_("The mask is too large."))
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                if image.format != "PNG":
                    raise ValidationError(_("The mask must be a PNG image."))
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ValidationError(_("The mask could not be read.")) from exc
        with Image.open(io.BytesIO(data)) as image:
            brightest = image.convert("L").getextrema()[1]
            painted = isinstance(brightest, int | float) and brightest > 127
        if not painted:
            raise ValidationError(_("Paint the region to redraw first: the mask is all black."))
        return mask


class ImagesRefused(Refusal):
    """Why the images sent with a task cannot be used, in words for the page."""


def collect_images(
    owner: User, uploads: list[Any], library_ids: list[str], *, least: int, most: int
) -> list[StoredFile]:
    """
    The images for a task, uploads first, then picks from the media library,
    each checked (an upload is decoded and kept as the owner's file, so it is
    in their library too). Nothing is kept unless all of them pass.
    """
    count = len(uploads) + len([i for i in library_ids if i])
    if count < least or count > most:
        if least == most:
            raise ImagesRefused(_("Choose exactly %(count)d image.") % {"count": least})
        if not least:
            raise ImagesRefused(
                ngettext("Choose at most %(most)d image.", "Choose at most %(most)d images.", most) % {"most": most}
            )
        raise ImagesRefused(_("Choose from %(least)d to %(most)d images.") % {"least": least, "most": most})
    picked = StoredFile.objects.for_user(owner).images().by_ids([i for i in library_ids if i])
    if picked is None:
        raise ImagesRefused(_("One of the chosen images is not in your library."))
    checked: list[tuple[str, NormalisedImage]] = []
    for upload in uploads:
        try:
            checked.append((upload.name, store.check_image(upload.read(), upload.name)))
        except BadImage as exc:
            raise ImagesRefused(exc.message) from exc
    kept = [store.keep_image(owner.pk, image, name, StoredFile.Source.UPLOAD) for name, image in checked]
    return kept + picked


class HistoryFilter(forms.Form):
    """
    The task history's filters, from the page's query string: how a task
    stands, what it asked for, when, and words of its prompt (as gateway
    admin pages filter). A field that does not validate is left out.
    """

    STANDING = {
        "running": ~Q(status__in=[*MidjourneyTask.ENDED, MidjourneyTask.Status.MODAL]),
        "waiting": Q(status=MidjourneyTask.Status.MODAL),
        "done": Q(status=MidjourneyTask.Status.SUCCESS),
        "failed": Q(status__in=[MidjourneyTask.Status.FAILURE, MidjourneyTask.Status.CANCEL]),
        "unknown": Q(status=MidjourneyTask.Status.UNKNOWN),
    }

    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[
            ("", gettext_lazy("Any status")),
            ("running", gettext_lazy("Running")),
            ("waiting", gettext_lazy("Waiting for your input")),
            ("done", gettext_lazy("Done")),
            ("failed", gettext_lazy("Failed or cancelled")),
            ("unknown", gettext_lazy("Answer lost")),
        ],
    )
    action = forms.ChoiceField(
        label=gettext_lazy("Action"),
        required=False,
        choices=[("", gettext_lazy("Any action")), *MidjourneyTask.Action.choices],
    )
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=gettext_lazy("Prompt contains"), required=False, max_length=200, strip=True)

    def apply(self, tasks: QuerySet[MidjourneyTask]) -> QuerySet[MidjourneyTask]:
        self.is_valid()
        chosen = {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}
        if "status" in chosen:
            tasks = tasks.filter(self.STANDING[chosen["status"]])
        if "action" in chosen:
            tasks = tasks.filter(action=chosen["action"])
        if "since" in chosen:
            tasks = tasks.filter(created_at__date__gte=chosen["since"])
        if "until" in chosen:
            tasks = tasks.filter(created_at__date__lte=chosen["until"])
        if "q" in chosen:
            tasks = tasks.filter(prompt__icontains=chosen["q"])
        return tasks

    def query(self) -> str:
        """The filters as a query string, for the pager's links (the page number apart)."""
        chosen = {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}
        return urlencode({name: str(value) for name, value in chosen.items()})

    @property
    def active(self) -> bool:
        return any(getattr(self, "cleaned_data", {}).values())
