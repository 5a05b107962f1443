"""
Pictures the way image models hand them out: on a file host beside the
API, at URLs that expire. ``gpt-4o-image`` replies link them in Markdown
(see chat.picture_reply); the images endpoint answers with them too.

- ``GET /fake/pictures/<name>.<png|jpg|webp>?expires=<unix seconds>``: a
  real image, drawn from the name (the same name is the same picture); 403
  once expired, as signed CDN links answer.
- ``GET /fake/redirect?to=<url>``: a 302 there (to test where downloads may go).
- ``GET /fake/pictures/not-an-image.png``: text served as image/png.
No key is needed: a file host does not know the API's keys.
"""

import hashlib
import io
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from .state import Recorded

if TYPE_CHECKING:
    from .server import Handler

# Names drawn their own way (a Midjourney grid, say): prefix -> draw(stem).
SPECIAL_DRAWINGS: dict[str, Any] = {}
FORMATS = {"png": ("PNG", "image/png"), "jpg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}


def draw(name: str, fmt: str = "png", size: tuple[int, int] = (96, 64)) -> bytes:
    """A picture of its name: a colour from its digest, and a stripe, so two names differ."""
    digest = hashlib.sha256(name.encode()).digest()
    image = Image.new("RGB", size, tuple(digest[:3]))
    for x in range(size[0] // 3):
        for y in range(size[1]):
            image.putpixel((x, y), tuple(digest[3:6]))
    out = io.BytesIO()
    image.save(out, FORMATS[fmt][0])
    return out.getvalue()


def url_for(handler: "Handler", name: str, lifetime: float = 3600.0) -> str:
    return f"{handler.server.base_url}/fake/pictures/{name}?expires={int(time.time() + lifetime)}"


def _send(
    handler: "Handler", status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def serve(handler: "Handler", body: Any, record: Recorded) -> None:
    parts = urlsplit(handler.path)
    query = parse_qs(parts.query)
    if parts.path == "/fake/redirect":
        _send(handler, 302, b"", "text/plain", {"Location": query.get("to", [""])[0]})
        return
    name = parts.path.rsplit("/", 1)[-1]
    if name == "not-an-image.png":
        _send(handler, 200, b"<html>This is not a picture</html>", "image/png")
        return
    stem, _dot, extension = name.rpartition(".")
    expires = query.get("expires", ["0"])[0]
    if extension not in FORMATS or not stem:
        _send(handler, 404, b"Not found", "text/plain")
    elif not expires.isdigit() or int(expires) < time.time():
        _send(
            handler,
            403,
            b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            "application/xml",
        )
    else:
        with handler.server.state.lock:
            handler.server.state.pictures_served += 1
        special = next((drawing for prefix, drawing in SPECIAL_DRAWINGS.items() if stem.startswith(prefix)), None)
        data = special(stem) if special is not None and extension == "png" else draw(stem, extension)
        _send(handler, 200, data, FORMATS[extension][1])
