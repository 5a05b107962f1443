"""
Text as the full-text indexes read it, and as people see it in results.

Neither PostgreSQL's parser nor SQLite's unicode61 tokenizer splits Chinese
(or Japanese) into words: a run of Han characters is one token, so a word
inside a sentence is never found. Both databases are given the same
rewrite: each run of CJK characters is indexed as its characters and its
overlapping pairs ("汽车修理" → "汽 车 修 理 汽车 车修 修理"). A query of one
or two characters requires them; a longer run typed without spaces
("购买电脑") requires each of its characters and ranks by its pairs, which
are optional: a dictionary would know that "买电" is no word, this does not,
so the words of the query need not sit side by side in the text ("购买一台
电脑" is found), and a text holding them side by side ranks first. That finds
Chinese without a dictionary, on both databases, at the cost of some false
neighbours that ranking pushes down. Other scripts are
left to the database's own tokenizer and stemmer.
"""

import html
import re
from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
CJK_RUN = re.compile(f"[{_CJK}]+")
# What a query is made of: words (letters and digits, any script but CJK) and CJK runs.
_QUERY_PIECE = re.compile(rf"[{_CJK}]+|[^\W_]+", re.UNICODE)

MAX_QUERY_WORDS = 12


def _cjk_terms(run: str) -> list[str]:
    return [*run, *(run[i : i + 2] for i in range(len(run) - 1))]


def index_terms(text: str) -> str:
    """What the full-text index is given for ``text``."""
    return CJK_RUN.sub(lambda m: " " + " ".join(_cjk_terms(m.group(0))) + " ", text)


@dataclass(frozen=True)
class Query:
    """A query's required terms: plain words (prefix-matched) and CJK pairs or single characters."""

    words: tuple[str, ...]
    cjk: tuple[str, ...]
    # The query as typed, trimmed: an exact occurrence of it ranks first.
    phrase: str
    # Pairs of a longer CJK run, which rank but are not required.
    cjk_pairs: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.words and not self.cjk

    def fts5(self) -> str:
        """SQLite FTS5's MATCH syntax: every term required, words as prefixes; quoted, so no operator gets through."""
        parts = [f'"{w}"*' for w in self.words] + [f'"{c}"' for c in self.cjk]
        if self.cjk_pairs:
            # Always true (its last term is required anyway), so the pairs only rank.
            parts.append("(" + " OR ".join([*(f'"{p}"' for p in self.cjk_pairs), f'"{self.cjk[0]}"']) + ")")
        return " AND ".join(parts)

    def tsquery(self) -> str:
        """PostgreSQL's to_tsquery syntax, the same rule; terms only hold letters and digits, quoted."""
        parts = [f"'{w}':*" for w in self.words] + [f"'{c}'" for c in self.cjk]
        if self.cjk_pairs:
            parts.append("(" + " | ".join([*(f"'{p}'" for p in self.cjk_pairs), f"'{self.cjk[0]}'"]) + ")")
        return " & ".join(parts)

    def markers(self) -> list[str]:
        """What to mark in a result: the words as prefixes, and the CJK runs typed."""
        return [*self.words, *self.cjk_runs]

    @property
    def cjk_runs(self) -> list[str]:
        return CJK_RUN.findall(self.phrase)


def parse(raw: str) -> Query:
    phrase = " ".join(raw.split())[:200]
    words: list[str] = []
    cjk: list[str] = []
    pairs: list[str] = []
    for piece in _QUERY_PIECE.findall(phrase.lower()):
        if CJK_RUN.fullmatch(piece):
            if len(piece) <= 2:
                cjk.extend([piece] if piece not in cjk else [])
            else:
                cjk.extend(c for c in dict.fromkeys(piece) if c not in cjk)
                pairs.extend(p for p in (piece[i : i + 2] for i in range(len(piece) - 1)) if p not in pairs)
        elif piece not in words:
            words.append(piece)
    return Query(
        words=tuple(words[:MAX_QUERY_WORDS]),
        cjk=tuple(cjk[: MAX_QUERY_WORDS * 2]),
        phrase=phrase,
        cjk_pairs=tuple(pairs[: MAX_QUERY_WORDS * 2]),
    )


def contains_phrase(text: str, query: Query) -> bool:
    return bool(query.phrase) and query.phrase.lower() in " ".join(text.split()).lower()


def snippet(text: str, query: Query | None, width: int = 220) -> SafeString:
    """
    HTML: the part of ``text`` around the first match of ``query`` (the
    beginning, without one), escaped, every match wrapped in <mark>. Built
    from the escaped text only, so nothing of the message can become markup.
    """
    flat = " ".join(text.split())
    patterns = []
    if query is not None:
        patterns = [re.escape(query.phrase)] if query.phrase else []
        patterns += [rf"\b{re.escape(w)}\w*" for w in query.words] + [re.escape(run) for run in query.cjk_runs]
    matcher = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None
    first = matcher.search(flat) if matcher else None
    start = 0
    if first and first.start() > width // 3:
        # From a word boundary a third of the width before the match.
        before = first.start() - width // 3
        start = flat.rfind(" ", 0, before) + 1 or before
    end = min(len(flat), start + width)
    if end < len(flat) and (cut := flat.rfind(" ", start + width // 2, end)) > 0:
        end = cut
    window = flat[start:end]
    pieces = []
    last = 0
    for match in matcher.finditer(window) if matcher else ():
        pieces.append(html.escape(window[last : match.start()]))
        pieces.append(f"<mark>{html.escape(match.group(0))}</mark>")
        last = match.end()
    pieces.append(html.escape(window[last:]))
    marked = ("…" if start > 0 else "") + "".join(pieces) + ("…" if end < len(flat) else "")
    return mark_safe(marked)  # noqa: S308 (every piece of the text was escaped above)
