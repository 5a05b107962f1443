"""
Checking and normalising images, by decoding them (Pillow), never by name.

Every image the site keeps goes through ``normalise``: it must decode as
PNG, JPEG, WebP or GIF (the first frame); it may not exceed the size or
pixel limits (a small file can claim a billion pixels: a decompression
bomb); it is turned upright by its EXIF orientation, then re-encoded
without any metadata (EXIF, GPS, comments), the long side scaled down to
the admin's limit. A thumbnail is made at the same time, so the library
never decodes an original to show a grid.
"""

import io
import warnings
from dataclasses import dataclass

from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "MPO"}
# Above this many pixels an image is refused before it is decoded (about 8,000 × 8,000).
MAX_PIXELS = 64_000_000
THUMBNAIL_SIDE = 384
JPEG_QUALITY = 88


class BadImage(Exception):
    """An image refused, and why, in words for the person who sent it."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason
        super().__init__(f"{name}: {reason}")

    @property
    def message(self) -> str:
        return _("“%(name)s” was not accepted: %(reason)s") % {"name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class NormalisedImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes


def _refuse(name: str, reason: str) -> BadImage:
    return BadImage(name or _("image"), reason)


def normalise(data: bytes, name: str, *, max_bytes: int, max_long_side: int) -> NormalisedImage:
    if not data:
        raise _refuse(name, _("the file is empty."))
    if len(data) > max_bytes:
        raise _refuse(
            name, _("it is larger than %(limit)d MB, the most an image may be.") % {"limit": max_bytes // 1048576}
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise _refuse(name, _("only PNG, JPEG, WebP and GIF images are accepted."))
            width, height = image.size
            if width * height > MAX_PIXELS or width <= 0 or height <= 0:
                raise _refuse(name, _("it has too many pixels (%(w)d × %(h)d).") % {"w": width, "h": height})
            image.seek(0)  # a GIF or an animated WebP: its first frame
            image.load()
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(name, _("it has too many pixels to be read safely.")) from None
    except UnidentifiedImageError:
        raise _refuse(name, _("it is not an image this site can read (PNG, JPEG, WebP or GIF).")) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise _refuse(name, _("the image is damaged or cut short.")) from None

    source_format = image.format
    image = ImageOps.exif_transpose(image) or image
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info)
    image = _in_srgb(_eight_bit(image).convert("RGBA" if has_alpha else "RGB"))
    # Pillow carries what the file said besides pixels in ``info`` and writes some of it back
    # (a JPEG's comment, an ICC profile, PNG text): the copy kept starts from none of it.
    image.info = {}
    if max(image.size) > max_long_side:
        image.thumbnail((max_long_side, max_long_side), Image.Resampling.LANCZOS)

    # Photographs stay JPEG; screenshots, drawings and anything transparent stay lossless.
    if source_format in ("JPEG", "MPO") and not has_alpha:
        encoded, content_type, extension = _encode(image, "JPEG"), "image/jpeg", ".jpg"
    elif source_format == "WEBP":
        encoded, content_type, extension = _encode(image, "WEBP"), "image/webp", ".webp"
    else:
        encoded, content_type, extension = _encode(image, "PNG"), "image/png", ".png"
    return NormalisedImage(encoded, content_type, extension, image.width, image.height, make_thumbnail(image))


def _eight_bit(image: Image.Image) -> Image.Image:
    """
    Greyscale of more than eight bits (16-bit PNGs: modes I;16*, I, F) as eight:
    Pillow's convert to RGB clips every value above 255, a picture turned white.
    """
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        wide = image.convert("I") if image.mode.startswith("I;16") else image
        highest = wide.getextrema()[1]
        top = 65535 if image.mode.startswith("I;16") or (isinstance(highest, int | float) and highest > 255) else 255
        return wide.point(lambda value: value * (255 / top)).convert("L")
    return image


def _in_srgb(image: Image.Image) -> Image.Image:
    """
    The pixels moved into sRGB when the file carried another colour profile
    (a phone's Display P3), so dropping the profile keeps the colours.
    """
    profile = image.info.get("icc_profile")
    if not profile:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a damaged profile: the pixels as they are
    return converted or image


_SRGB = ImageCms.createProfile("sRGB")


def _encode(image: Image.Image, format: str) -> bytes:
    out = io.BytesIO()
    if format == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif format == "WEBP":
        image.save(out, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG", optimize=True)
    # Saved from decoded pixels with no info passed on: no EXIF, GPS, ICC text or comments.
    return out.getvalue()


def make_thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "WEBP", quality=80)
    return out.getvalue()
