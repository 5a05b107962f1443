"""
Markdown to HTML, sanitized: the one place where model text becomes markup.
Streamed snapshots and stored replies both come through here, so the page
after a reload looks like the page that streamed.

Raw HTML in the text stays text; links get rel="noopener noreferrer"; only
http(s) and mailto URLs survive. Images load only from CHAT_IMAGE_HOSTS:
any other image becomes a link to it, so model output (or whoever steers
the model) cannot make the reader's browser fetch an address on its own.
"""

import html
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import nh3
from django.conf import settings
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
    "div",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "span": {"class"},
    "pre": {"class", "data-lang"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}


def _highlight(code: str, lang: str, attrs: str) -> str:
    name = (lang or "").split()[0] if lang else ""
    try:
        lexer = get_lexer_by_name(name) if name else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return html.escape(code)
    return str(highlight(code, lexer, _FORMATTER))


def image_allowed(src: str) -> bool:
    parts = urlsplit(src)
    return parts.scheme == "https" and (parts.hostname or "") in settings.CHAT_IMAGE_HOSTS


def _image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if image_allowed(src):
        return f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">'
    return f'<a href="{html.escape(src)}">{html.escape(alt or src)}</a>'


@cache
def _markdown() -> MarkdownIt:
    # "html": False makes raw HTML in the text literal text, not markup.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image)
    return md


def _attribute(tag: str, name: str, value: str) -> str | None:
    # The second line: whatever produced an <img>, it loads only from an allowed host.
    if tag == "img" and name == "src" and not image_allowed(value):
        return None
    return value


def render_markdown(text: str) -> str:
    dirty = _markdown().render(text)
    return nh3.clean(
        dirty,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        # A link in a reply opens beside the chat, not instead of it.
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
