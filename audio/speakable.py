"""
A reply as it should be heard: the markdown read by the same parser that
renders it, so emphasis is not spoken as "asterisk asterisk", a link is its
words, and a code block is announced rather than spelled out; then cut at
sentence boundaries into pieces the speech endpoint takes.

The first piece is short (a sentence or two), so the first sound comes in a
couple of seconds whatever the reply's length; the pieces after it grow,
so a long reply is read in few calls.
"""

import re
from functools import cache

from django.utils.translation import gettext as _
from markdown_it import MarkdownIt
from markdown_it.token import Token

from aitre.client.audio import SPEECH_MAX_CHARS

_PHRASE_ENDS = ("heading_close", "th_close", "td_close", "list_item_close", "paragraph_close")
FIRST_PIECE_CHARS = 240
LATER_PIECE_CHARS = 1500

# A sentence ends at . ! ? … before a space (CJK 。！？ need none), with any closing quotes or brackets.
_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[\"'”’)\]」』]*(?=\s|$)|[。！？]+[」』”’)]*|$)", re.S)
_CLAUSE_END = re.compile(r"(?<=[,;:，；：、])\s*")


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough")


def _inline(token: Token) -> str:
    words = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            words.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            words.append(" ")
        elif child.type == "image":
            words.append(child.content or _("an image"))
    return "".join(words)


def _closing(text: str) -> str:
    """A heading, list item or cell read as its own phrase: a full stop unless it has one."""
    text = text.strip()
    return text if not text or text[-1] in ".!?:;…。！？：；" else text + "."


def speakable(markdown: str) -> str:
    """The words of a reply, as a listener should hear them."""
    spoken: list[str] = []
    for token in _parser().parse(markdown):
        if token.type == "inline":
            spoken.append(_inline(token))
        elif token.type in ("fence", "code_block"):
            language = (token.info or "").split()[0] if token.info else ""
            spoken.append(
                _("(A code block in %(language)s; see the screen.)") % {"language": language}
                if language
                else _("(A code block; see the screen.)")
            )
        elif token.type in _PHRASE_ENDS and spoken:
            spoken[-1] = _closing(spoken[-1])
    return " ".join(" ".join(part.split()) for part in spoken if part.strip())


def _hard_split(sentence: str, limit: int) -> list[str]:
    """A sentence longer than a piece: at clauses, then at spaces, then anywhere."""
    pieces: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        while len(clause) > limit:
            cut = clause.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces.append(clause[:cut].strip())
            clause = clause[cut:].strip()
        if pieces and len(pieces[-1]) + 1 + len(clause) <= limit:
            pieces[-1] = f"{pieces[-1]} {clause}".strip()
        elif clause:
            pieces.append(clause)
    return pieces


def pieces(text: str) -> list[str]:
    """Cut at sentence boundaries: a short first piece, longer ones after, none over the endpoint's limit."""
    cut: list[str] = []

    def limit() -> int:
        # The piece being filled: the first is short, so its sound comes quickly.
        return FIRST_PIECE_CHARS if len(cut) <= 1 else LATER_PIECE_CHARS

    for sentence in _SENTENCE.findall(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if cut and len(cut[-1]) + 1 + len(sentence) <= limit():
            cut[-1] = f"{cut[-1]} {sentence}"
            continue
        if not cut and len(sentence) > FIRST_PIECE_CHARS:
            first, *rest = _hard_split(sentence, FIRST_PIECE_CHARS)
            cut.append(first)
            sentence = " ".join(rest)
        cut.extend(_hard_split(sentence, LATER_PIECE_CHARS) if len(sentence) > LATER_PIECE_CHARS else [sentence])
    assert all(len(piece) <= SPEECH_MAX_CHARS for piece in cut)
    return cut
