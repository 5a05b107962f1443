"""
One search box, two rankings fused: by words (``search.words``) and by
meaning (``search.vectors``), combined by reciprocal rank fusion (each list
gives a passage 1 / (60 + its rank); the sums decide). A passage holding
the query exactly as typed comes first among those found by words. Every
query is the user's own: each ranking reads only passages they own.
"""

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.cache import cache
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from aitre.client import AitreError
from chat import replies, threads
from chat.views import THREAD_WINDOW
from usage import metering

from . import indexing, text, vectors, words
from .models import Passage, VectorSpace

logger = logging.getLogger(__name__)

RRF_K = 60
RESULTS = 30
# A query's vector is kept this long: searching again (paging, a reload) costs no call.
QUERY_VECTOR_SECONDS = 24 * 3600
MODES = ("all", "words", "meaning")


@dataclass
class Result:
    passage: Passage
    snippet: SafeString
    by_words: bool
    by_meaning: bool
    score: float

    @property
    def url(self) -> str:
        return reverse("search:open", args=[self.passage.pk])


@dataclass
class Results:
    query: str
    mode: str
    items: list[Result] = field(default_factory=list)
    # Why meaning could not be searched (no model, the quota, the API), when it could not.
    meaning_problem: str = ""
    # Where vectors were compared (None: no embedding model is offered).
    space: VectorSpace | None = None


def fuse(*rankings: list[int]) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of rankings of ids, best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, pk in enumerate(ranking, start=1):
            scores[pk] = scores.get(pk, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], -item[0]))


def query_vector(user: Any, space: VectorSpace, query: str) -> np.ndarray:
    """The query's vector: remembered, or one admitted, recorded call (the user's)."""
    key = "search-q:" + hashlib.sha256(f"{space.model}\0{space.dimensions}\0{query}".encode()).hexdigest()
    kept = cache.get(key)
    if isinstance(kept, bytes):
        return np.frombuffer(kept, dtype="<f4")
    [vector] = indexing.call_embeddings(user, space, [query[: indexing.EMBED_CHARS]], purpose="query")
    cache.set(key, vector.astype("<f4").tobytes(), QUERY_VECTOR_SECONDS)
    return vector


def _by_words(user: Any, query: text.Query) -> list[int]:
    found = words.ranked(user.pk, query)
    if not found or not query.phrase:
        return found
    # The exact phrase first, keeping the database's order otherwise.
    texts = dict(Passage.objects.filter(pk__in=found).values_list("pk", "text"))
    return sorted(found, key=lambda pk: not text.contains_phrase(texts.get(pk, ""), query))


def _by_meaning(user: Any, space: VectorSpace | None, raw: str) -> tuple[list[int], str]:
    if space is None:
        return [], _("No model with embeddings is offered on this site, so only words are searched.")
    try:
        vector = query_vector(user, space, raw)
    except metering.Refused as exc:
        return [], str(exc)
    except AitreError as exc:
        logger.warning("Search by meaning failed: %s (%s)", exc.message, exc.detail)
        return [], _("Search by meaning is unavailable right now: %(reason)s") % {"reason": exc.message}
    return [pk for pk, _score in vectors.nearest(user.pk, space, vector)], ""


def search(user: Any, raw: str, mode: str = "all") -> Results:
    mode = mode if mode in MODES else "all"
    query = text.parse(raw)
    results = Results(query=query.phrase, mode=mode)
    if not query.phrase:
        return results
    results.space = indexing.vector_space()
    by_words = _by_words(user, query) if mode in ("all", "words") else []
    by_meaning: list[int] = []
    if mode in ("all", "meaning"):
        by_meaning, results.meaning_problem = _by_meaning(user, results.space, query.phrase)
    fused = fuse(by_words, by_meaning)[:RESULTS]
    passages = Passage.objects.for_user(user).select_related("conversation").in_bulk([pk for pk, _ in fused])
    word_set, meaning_set = set(by_words), set(by_meaning)
    results.items = [
        Result(
            passage=passages[pk],
            # Marks say which words matched: only where the words found it.
            snippet=text.snippet(passages[pk].text, query if pk in word_set else None),
            by_words=pk in word_set,
            by_meaning=pk in meaning_set,
            score=score,
        )
        for pk, score in fused
        if pk in passages
    ]
    return results


def location(passage: Passage) -> str:
    """
    Where a result opens: the conversation, showing the version path that
    holds the message (switched to it when another version is on show),
    scrolled to the message; the whole path when it is further back than a
    page shows.
    """
    conversation = passage.conversation
    url = reverse("chat:conversation", args=[conversation.pk])
    message = passage.message
    if message is None:
        return url
    tree = threads.Tree.of(conversation.pk)
    path = tree.path_to(conversation.current_leaf_id)
    if message.pk not in path:
        message.conversation = conversation
        replies.select_version(message)
        path = tree.path_to(conversation.current_leaf_id)
    whole = "?all=1" if message.pk not in path[-THREAD_WINDOW:] else ""
    return f"{url}{whole}#m{message.pk}"
