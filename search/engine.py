"""
One search box, two rankings fused: by words (``search.words``) and by
meaning (``search.vectors``), combined by weighted reciprocal rank fusion
(each list gives a passage weight / (60 + its rank); the sums decide). A
passage holding the query exactly as typed comes first among those found
by words, and one the words found only as the start of longer words
("car" in "carbon") counts half (``PREFIX_ONLY_WEIGHT``): meaning then
outranks an accidental prefix. The weights were chosen on the labelled
queries of tests/search/test_ranking.py, kept there with their MRR.

One result a message: a conversation's title, made of its first question,
is not listed beside that question. A query's vector is asked once, with no
waiting on a rate limit: the words are shown at once, with a note. Every
query is the user's own: each ranking reads only passages they own.
"""

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models.functions import Substr
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from accounts.models import User
from aitre.client import AitreError
from chat import replies, threads
from chat.models import Conversation, Message
from chat.views import THREAD_WINDOW
from usage import metering

from . import embedding, text, vectors, words
from .models import Passage, VectorSpace

logger = logging.getLogger(__name__)

RRF_K = 60
RESULTS = 30
# More than a title made of a question holds (Conversation.title_from: 60 characters and "…").
TITLE_HEAD = 80
# Neighbours asked for when filters may leave out many of them.
FILTERED_NEIGHBOURS = 1000
PREFIX_ONLY_WEIGHT = 0.5
# A word found as the start of a longer one by more than this many letters is a prefix, not a form of it
# ("car" → "cars", "cared" are forms; "carbon" is another word).
FORM_LETTERS = 2
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


@dataclass(frozen=True)
class Filters:
    """What narrows a search: when the message was written, the conversation's model, pinned, archived."""

    since: date | None = None
    until: date | None = None
    model: str = ""
    pinned: bool = False
    # "" every conversation; "no": leave archived ones out; "only": archived ones alone.
    archived: str = ""

    @property
    def any(self) -> bool:
        return bool(self.since or self.until or self.model or self.pinned or self.archived)

    def conversations(self, user: User) -> Any:
        """The user's conversations these filters leave in (a queryset, used as a subquery)."""
        found = Conversation.objects.filter(owner=user)
        if self.model:
            found = found.filter(model=self.model)
        if self.pinned:
            found = found.filter(pinned=True)
        if self.archived:
            found = found.filter(archived=self.archived == "only")
        return found

    def passages(self, user: User) -> Any:
        found = Passage.objects.for_user(user)
        if self.model or self.pinned or self.archived:
            found = found.filter(conversation__in=self.conversations(user).values("pk"))
        if self.since:
            found = found.filter(created_at__date__gte=self.since)
        if self.until:
            found = found.filter(created_at__date__lte=self.until)
        return found


@dataclass
class Results:
    query: str
    mode: str
    items: list[Result] = field(default_factory=list)
    page: int = 1
    has_more: bool = False
    # Why meaning could not be searched (no model, the quota, the API), when it could not.
    meaning_problem: str = ""
    # Where vectors were compared (None: no embedding model is offered).
    space: VectorSpace | None = None


def fuse(*rankings: list[int], weights: dict[int, float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of rankings of ids, best first; ``weights`` lowers some ids' share of the first."""
    scores: dict[int, float] = {}
    for index, ranking in enumerate(rankings):
        for rank, pk in enumerate(ranking, start=1):
            weight = (weights or {}).get(pk, 1.0) if index == 0 else 1.0
            scores[pk] = scores.get(pk, 0.0) + weight / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], -item[0]))


def prefix_only(passage_text: str, query: text.Query) -> bool:
    """Whether some word of the query is in the text only as the start of a longer, other word."""
    for word in query.words:
        forms = re.findall(rf"\b{re.escape(word)}(\w*)", passage_text, flags=re.IGNORECASE)
        if forms and all(len(rest) > FORM_LETTERS for rest in forms):
            return True
    return False


def query_vector(user: User, space: VectorSpace, query: str) -> np.ndarray:
    """The query's vector: remembered, or one admitted, recorded call (the user's)."""
    key = "search-q:" + hashlib.sha256(f"{space.model}\0{space.dimensions}\0{query}".encode()).hexdigest()
    kept = cache.get(key)
    if isinstance(kept, bytes):
        return np.frombuffer(kept, dtype="<f4")
    [vector] = embedding.call_embeddings(user, space, [query[: embedding.EMBED_CHARS]], purpose="query", retries=0)
    cache.set(key, vector.astype("<f4").tobytes(), QUERY_VECTOR_SECONDS)
    return vector


def _by_words(user: User, query: text.Query, filters: Filters) -> tuple[list[int], dict[int, float]]:
    """The passages found by words, the exact phrase first; and the weight of those found only by a prefix."""
    found = words.ranked(user.pk, query, within=filters.passages(user) if filters.any else None)
    if not found or not query.phrase:
        return found, {}
    texts = dict(Passage.objects.filter(pk__in=found).values_list("pk", "text"))
    weights = {pk: PREFIX_ONLY_WEIGHT for pk in found if prefix_only(texts.get(pk, ""), query)}
    # The exact phrase first, then whole words before prefixes, keeping the database's order otherwise.
    ordered = sorted(found, key=lambda pk: (not text.contains_phrase(texts.get(pk, ""), query), pk in weights))
    return ordered, weights


def _by_meaning(user: User, space: VectorSpace | None, raw: str, filters: Filters) -> tuple[list[int], str]:
    if space is None:
        return [], _("No model with embeddings is offered on this site, so only words are searched.")
    try:
        vector = query_vector(user, space, raw)
    except metering.Refused as exc:
        return [], str(exc)
    except AitreError as exc:
        if exc.status == 429:
            return [], _("Search by meaning is busy right now (rate-limited); these are the results by words.")
        logger.warning("Search by meaning failed: %s (%s)", exc.message, exc.detail)
        return [], _("Search by meaning is unavailable right now: %(reason)s") % {"reason": exc.message}
    if not filters.any:
        return [pk for pk, _score in vectors.nearest(user.pk, space, vector)], ""
    # Filtered after: more neighbours are asked for, so enough are left.
    near = [pk for pk, _score in vectors.nearest(user.pk, space, vector, limit=FILTERED_NEIGHBOURS)]
    allowed = set(filters.passages(user).filter(pk__in=near).values_list("pk", flat=True))
    return [pk for pk in near if pk in allowed][: vectors.NEIGHBOURS], ""


def search(
    user: User, raw: str, mode: str = "all", *, filters: Filters | None = None, page: int = 1, per_page: int = RESULTS
) -> Results:
    """The user's passages for ``raw``, best first, ``per_page`` at a time; ``page`` counts from 1."""
    mode = mode if mode in MODES else "all"
    filters = filters or Filters()
    query = text.parse(raw)
    page = max(1, page)
    results = Results(query=query.phrase, mode=mode, page=page)
    if not query.phrase:
        return results
    results.space = embedding.vector_space()
    by_words, weights = _by_words(user, query, filters) if mode in ("all", "words") else ([], {})
    by_meaning: list[int] = []
    if mode in ("all", "meaning"):
        by_meaning, results.meaning_problem = _by_meaning(user, results.space, query.phrase, filters)
    fused = fuse(by_words, by_meaning, weights=weights)
    # Titles are dropped beside their questions over the whole list, so no page repeats one.
    fused = _one_a_message(fused, user)
    start = (page - 1) * per_page
    results.has_more = len(fused) > start + per_page
    fused = fused[start : start + per_page]
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


def _title_stem(title: str) -> str:
    return " ".join(title.removesuffix("…").split())


def _one_a_message(fused: list[tuple[int, float]], user: User) -> list[tuple[int, float]]:
    """
    A title made of its conversation's first question is not listed beside
    that question: the question takes the better of the two places. Only
    the start of each text is read (a title is at most 61 characters).
    """
    heads = {
        pk: (kind, conversation_id, " ".join(head.split()))
        for pk, kind, conversation_id, head in Passage.objects.for_user(user)
        .filter(pk__in=[pk for pk, _score in fused])
        .annotate(head=Substr("text", 1, TITLE_HEAD))
        .values_list("pk", "kind", "conversation_id", "head")
    }
    questions: dict[int, list[tuple[int, str]]] = {}
    for pk, (kind, conversation_id, head) in heads.items():
        if kind == Passage.Kind.MESSAGE:
            questions.setdefault(conversation_id, []).append((pk, head))
    kept: list[tuple[int, float]] = []
    placed: set[int] = set()
    for pk, score in fused:
        if pk not in heads:
            continue
        kind, conversation_id, head = heads[pk]
        if kind == Passage.Kind.TITLE and (stem := _title_stem(head)):
            pk = next((q for q, text in questions.get(conversation_id, []) if text.startswith(stem)), pk)
        if pk not in placed:
            placed.add(pk)
            kept.append((pk, score))
    return kept


def _title_source(passage: Passage) -> Message | None:
    """The question a title was made of (any version of it), so a title hit opens where its words are."""
    stem = _title_stem(passage.text)
    if not stem:
        return None
    candidates = Message.objects.filter(
        conversation_id=passage.conversation_id, role=Message.Role.USER, content__startswith=stem[:40]
    ).order_by("pk")
    return next((m for m in candidates if " ".join(m.content.split()).startswith(" ".join(stem.split()))), None)


def location(passage: Passage) -> str:
    """
    Where a result opens: the conversation, showing the version path that
    holds the message (switched to it when another version is on show),
    scrolled to the message; the whole path when it is further back than a
    page shows.
    """
    conversation = passage.conversation
    url = reverse("chat:conversation", args=[conversation.pk])
    message = passage.message if passage.kind == Passage.Kind.MESSAGE else _title_source(passage)
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
