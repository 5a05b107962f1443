"""Real image files for the tests, made with Pillow: the server decodes what it is sent."""

import io

from PIL import Image


def picture(fmt: str = "PNG", size: tuple[int, int] = (120, 80), colour=(200, 30, 30), **save) -> bytes:
    mode = "RGBA" if fmt == "PNG" and save.pop("alpha", False) else "RGB"
    image = Image.new(mode, size, colour if mode == "RGB" else (*colour, 128))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def photo_with_gps() -> bytes:
    """A JPEG as phones write them: EXIF with a camera, a GPS position and an orientation (rotated)."""
    image = Image.new("RGB", (60, 40), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    gps = {1: "N", 2: (52.0, 22.0, 12.0), 3: "E", 4: (4.0, 53.0, 40.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (30, 20), i * 40) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def bomb_png() -> bytes:
    """A tiny file claiming an enormous image: the header says 30,000 × 30,000."""
    image = Image.new("1", (30000, 30000))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
