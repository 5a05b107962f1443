"""Splitting a finished grid into its four pictures, each the owner's own file."""

import io
import logging

from PIL import Image

from files import store
from files.models import StoredFile

from .models import KEPT_LONG_SIDE, MidjourneyTask

logger = logging.getLogger(__name__)

Status = MidjourneyTask.Status
Action = MidjourneyTask.Action


def split(task: MidjourneyTask) -> list[StoredFile]:
    """The grid's four pictures as the owner's own files (once: a second split gives the same four)."""
    existing = list(task.parts().order_by("name"))
    if existing or task.image is None:
        return existing
    with task.image.blob.open("rb") as handle:
        grid = Image.open(io.BytesIO(handle.read()))
        grid.load()
    width, height = grid.size
    half_w, half_h = width // 2, height // 2
    parts = []
    for index, (left, top) in enumerate([(0, 0), (half_w, 0), (0, half_h), (half_w, half_h)], start=1):
        out = io.BytesIO()
        grid.crop((left, top, left + half_w, top + half_h)).convert("RGB").save(out, "PNG")
        checked = store.check_image(out.getvalue(), f"part-{index}.png", max_long_side=KEPT_LONG_SIDE)
        parts.append(
            store.keep_image(
                task.owner_id,
                checked,
                f"midjourney-{task.upstream_id}-{index}",
                StoredFile.Source.MIDJOURNEY,
                model="midjourney",
                prompt=task.prompt,
                origin_id=task.pk,
            )
        )
    return parts
