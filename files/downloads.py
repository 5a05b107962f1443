"""
Fetching an image from the network, bounded: upstream image URLs expire
(often within the hour), so every generated image is fetched at once and
kept, and each fetch is a request the site makes on a model's word.

- Only https, or the API's own origin (its images may live beside it).
- Every address the host resolves to must be public: no loopback, private,
  link-local or reserved address (a link to http://169.254.169.254/ is the
  classic way to read a cloud machine's secrets). The API's own origin is
  exempt: it is the admin's choice, and may well be on a private network.
- Redirects are followed by hand, at most a few, each one checked again.
- A connect and a read timeout, an overall deadline, and a size cap read as
  the bytes arrive. The API key is never sent.

What is fetched is then checked as an image by decoding it (files.images).
"""

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit

import requests
from django.utils.translation import gettext as _

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
DEADLINE_SECONDS = 60.0
CHUNK = 64 * 1024


class DownloadRefused(Exception):
    """Why an image could not be fetched, in words for the page."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _public(host: str, port: int | None) -> bool:
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            return False
    return bool(infos)


def check_url(url: str, trusted_origin: str = "") -> None:
    """Raise DownloadRefused unless the site may fetch ``url``."""
    scheme, host, port = _origin(url)
    if not host or scheme not in ("http", "https"):
        raise DownloadRefused(_("The image link is not a web address."))
    if trusted_origin and (scheme, host, port) == _origin(trusted_origin):
        return
    if scheme != "https":
        raise DownloadRefused(_("The image link is not https."))
    if not _public(host, port):
        raise DownloadRefused(_("The image link points to a private or unknown address."))


def fetch(url: str, *, max_bytes: int, trusted_origin: str = "", session: requests.Session | None = None) -> bytes:
    """The bytes at ``url``, within the limits above; DownloadRefused otherwise."""
    http = session or requests.Session()
    deadline = time.monotonic() + DEADLINE_SECONDS
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(url, trusted_origin)
        try:
            response = http.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                headers={"Accept": "image/*"},
            )
        except requests.Timeout:
            raise DownloadRefused(_("The image took too long to fetch.")) from None
        except requests.RequestException:
            raise DownloadRefused(_("The image could not be fetched.")) from None
        with response:
            if response.is_redirect:
                location = response.headers.get("Location", "")
                url = urljoin(url, location)
                continue
            if response.status_code != 200:
                raise DownloadRefused(
                    _("The image could not be fetched (the server answered %(status)d; the link may have expired).")
                    % {"status": response.status_code}
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise DownloadRefused(_("The image is too large to keep."))
            body = bytearray()
            try:
                for chunk in response.iter_content(CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise DownloadRefused(_("The image is too large to keep."))
                    if time.monotonic() > deadline:
                        raise DownloadRefused(_("The image took too long to fetch."))
            except requests.RequestException:
                raise DownloadRefused(_("The image could not be fetched.")) from None
            return bytes(body)
    raise DownloadRefused(_("The image link redirects too many times."))
