"""Images are checked by decoding them, normalised, and stripped of what they carry besides pixels."""

import io

import pytest
from PIL import Image

from files.images import BadImage, normalise
from tests.files.images import animated_gif, bomb_png, photo_with_gps, picture

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_long_side": 2048}


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_each_accepted_format_is_kept_in_its_kind(fmt, content_type):
    result = normalise(picture(fmt), "shot.bin", **LIMITS)
    assert result.content_type == content_type
    assert (result.width, result.height) == (120, 80)
    assert Image.open(io.BytesIO(result.data)).format == fmt


def test_a_gif_keeps_its_first_frame_as_a_png():
    result = normalise(animated_gif(), "dance.gif", **LIMITS)
    image = Image.open(io.BytesIO(result.data))
    assert result.content_type == "image/png"
    assert getattr(image, "n_frames", 1) == 1


def test_exif_and_gps_are_stripped_and_the_photo_turned_upright():
    original = Image.open(io.BytesIO(photo_with_gps()))
    assert original.getexif().get(0x010F) == "PhoneMaker"
    result = normalise(photo_with_gps(), "IMG_0001.jpg", **LIMITS)
    kept = Image.open(io.BytesIO(result.data))
    assert not kept.getexif()
    assert b"PhoneMaker" not in result.data
    assert "exif" not in kept.info
    # Orientation 6 means the 60 × 40 sensor image is seen as 40 × 60.
    assert (result.width, result.height) == (40, 60)


def test_the_long_side_is_scaled_down_to_the_limit():
    result = normalise(picture("PNG", size=(3000, 1000)), "wide.png", max_bytes=LIMITS["max_bytes"], max_long_side=600)
    assert (result.width, result.height) == (600, 200)
    assert Image.open(io.BytesIO(result.data)).size == (600, 200)


def test_transparency_is_kept():
    result = normalise(picture("PNG", alpha=True), "logo.png", **LIMITS)
    assert Image.open(io.BytesIO(result.data)).mode == "RGBA"


def test_a_thumbnail_is_made_at_once_and_is_small():
    result = normalise(picture("PNG", size=(2000, 1000)), "big.png", **LIMITS)
    thumbnail = Image.open(io.BytesIO(result.thumbnail))
    assert thumbnail.format == "WEBP"
    assert max(thumbnail.size) <= 384


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a but not really an image", "not an image"),
        (b"%PDF-1.7 a document", "not an image"),
        (picture("PNG")[:60], "damaged"),
        (picture("BMP"), "only PNG, JPEG, WebP and GIF"),
        (picture("TIFF"), "only PNG, JPEG, WebP and GIF"),
    ],
)
def test_what_is_not_an_accepted_image_is_refused_by_its_content_not_its_name(data, reason):
    with pytest.raises(BadImage) as refused:
        normalise(data, "holiday.png", **LIMITS)
    assert refused.value.name == "holiday.png"
    assert reason in refused.value.reason
    assert "holiday.png" in refused.value.message


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    data = bomb_png()
    assert len(data) < 1_000_000
    with pytest.raises(BadImage) as refused:
        normalise(data, "tiny.png", **LIMITS)
    assert "pixels" in refused.value.reason


def test_a_file_over_the_size_limit_is_refused():
    with pytest.raises(BadImage) as refused:
        normalise(picture("PNG"), "big.png", max_bytes=100, max_long_side=2048)
    assert "larger than" in refused.value.reason


def _saved(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _ramp() -> Image.Image:
    """Greyscale from black at the top to white at the bottom."""
    return Image.linear_gradient("L").resize((120, 80))


def _grey_ramp_16_bit() -> Image.Image:
    """The ramp in 16-bit greyscale, as scanners and medical software write them."""
    return _ramp().convert("I").point(lambda value: value * 257).convert("I;16")


@pytest.mark.parametrize(
    ("name", "data", "expected_mode"),
    [
        ("16-bit grey PNG", _saved(_grey_ramp_16_bit(), "PNG"), "RGB"),
        ("palette with transparency", _saved(_ramp().convert("P"), "PNG", transparency=0), "RGBA"),
        ("CMYK JPEG", _saved(_ramp().convert("CMYK"), "JPEG", quality=95), "RGB"),
        ("grey with alpha (LA)", _saved(Image.merge("LA", [_ramp()] * 2), "PNG"), "RGBA"),
        ("bilevel", _saved(_ramp().convert("1"), "PNG"), "RGB"),
    ],
)
def test_every_mode_pillow_decodes_keeps_its_picture(name, data, expected_mode):
    """A ramp from dark to light stays a ramp: 16-bit grey came out pure white (clipped at 255)."""
    result = normalise(data, f"{name}.bin", **LIMITS)
    kept = Image.open(io.BytesIO(result.data))
    assert kept.mode == expected_mode
    grey = kept.convert("L")
    top, bottom = grey.getpixel((60, 2)), grey.getpixel((60, 77))
    assert top < 60, f"{name}: the dark end came out at {top}"
    assert bottom > 190, f"{name}: the light end came out at {bottom}"


def test_a_jpeg_comment_is_not_kept():
    """A COM segment (a script, an e-mail address) went to the API and to Midjourney's gateway."""
    comment = b"<script>alert(1)</script> mail me: someone@example.org"
    data = _saved(Image.new("RGB", (64, 48), (10, 120, 200)), "JPEG", comment=comment)
    assert comment in data
    result = normalise(data, "commented.jpg", **LIMITS)
    assert b"someone@example.org" not in result.data
    assert b"<script>" not in result.data
    assert "comment" not in Image.open(io.BytesIO(result.data)).info


def test_png_text_and_an_icc_profile_are_not_kept():
    from PIL import ImageCms, PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "someone@example.org")
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _saved(Image.new("RGB", (64, 48), (10, 120, 200)), "PNG", pnginfo=text, icc_profile=profile)
    result = normalise(data, "annotated.png", **LIMITS)
    kept = Image.open(io.BytesIO(result.data))
    assert b"someone@example.org" not in result.data
    assert "icc_profile" not in kept.info
