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
import re
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


# The site's own copy of a picture (see chat.pictures): a path, served after an access check.
_OWN_FILE = re.compile(r"^/files/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(/thumbnail)?$")


def image_allowed(src: str) -> bool:
    if _OWN_FILE.match(src):
        return True
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


# A line that may continue the block before a blank line (a list item, an
# indented or lazy continuation, a table row, a setext underline) or that
# refers to a definition anywhere (a reference link).
_CONTINUES = re.compile(r"[\s\-*+>|=\d\[]")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:", re.MULTILINE)


def _stable_end(text: str, start: int) -> int:
    """
    Where the blocks that can no longer change end: just after the last
    blank line past ``start`` that is outside a code fence and followed by a
    line that starts a new block of its own. Markdown rendered up to there
    is rendered the same whatever comes after. ``start`` is such a place.
    """
    stable = position = start
    fence = ""
    blank_before = False
    while (newline := text.find("\n", position)) >= 0:
        line = text[position:newline]
        if fence:
            closing = _FENCE.match(line)
            if closing and closing.group(1).startswith(fence) and not line.strip(" " + fence[0]):
                fence = ""
        else:
            if blank_before and line.strip() and not _CONTINUES.match(line):
                stable = position
            if opening := _FENCE.match(line):
                fence = opening.group(1)
            blank_before = not line.strip()
        position = newline + 1
    return stable  # the last line, without its newline, may still grow


class SnapshotRenderer:
    """
    Rendered snapshots of one reply as it grows, each costing what changed,
    not the whole text again: the blocks that can no longer change are
    rendered once and kept. A text with reference definitions, which may
    change any earlier block, is rendered whole each time.
    """

    def __init__(self) -> None:
        self._kept_text = ""
        self._kept_html = ""

    def render(self, text: str) -> str:
        if _DEFINITION.search(text):
            return render_markdown(text)
        if not text.startswith(self._kept_text):  # not the text it followed: start again
            self._kept_text = self._kept_html = ""
        kept = len(self._kept_text)
        end = _stable_end(text, kept)
        if end > kept:
            self._kept_html += render_markdown(text[kept:end])
            self._kept_text = text[:end]
        return self._kept_html + render_markdown(text[end:])
