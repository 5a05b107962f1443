"""Model output through the one sanitizer: every payload renders inert."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from chat.rendering import render_markdown
from tests.xss_payloads import EVIL, PAYLOADS


class Inspector(HTMLParser):
    """Everything in the rendered HTML that could run, load or restyle."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style", "iframe", "object", "embed", "form", "meta", "base", "link", "svg", "math"}:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name in {"style", "srcset", "ping", "background", "formaction"}:
                self.problems.append(f"{tag}[{name}]")
            if name in {"href", "src", "action", "data", "xlink:href"}:
                scheme = urlsplit(value.strip()).scheme.lower()
                # A link may be relative (it loads nothing until clicked); nothing else may.
                if scheme not in {"http", "https", "mailto"} and not (tag == "a" and name == "href" and not scheme):
                    self.problems.append(f"{tag}[{name}={value}]")
            if tag == "img" and name == "src":
                self.problems.append(f"img from {value}")
            if tag == "a" and name == "rel":
                assert {"noopener", "noreferrer"} <= set(value.split())


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_payload_renders_inert(payload):
    inspector = Inspector()
    inspector.feed(render_markdown(payload))
    assert inspector.problems == []


def test_the_corpus_is_big_and_covers_every_kind_of_attack():
    assert len(PAYLOADS) >= 50
    text = "\n".join(PAYLOADS).lower()
    for marker in ["<script", "onerror=", "javascript:", "data:", "<svg", "<math", "```", "![", "style", EVIL]:
        assert marker in text, marker


def test_images_load_only_from_allowed_hosts(settings):
    settings.CHAT_IMAGE_HOSTS = ["images.example"]
    html = render_markdown("![ok](https://images.example/a.png) ![no](https://evil.example/b.png)")
    assert '<img src="https://images.example/a.png" alt="ok">' in html
    assert '<a href="https://evil.example/b.png"' in html and '<img src="https://evil.example' not in html
