"""
Embedding the passages, in the worker, in batches, with the admin's
embedding model (``embed_passages``, queued when passages are written and
by the sweep), and everything that says which model and vector length are
in force. A paid call whose answer was lost is not re-sent by itself: its
passages are released and embedded again on a later round, which is the
cost of one batch at worst, never a loop.
"""

import logging
import random
import time
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.tasks import task
from django.utils import timezone

from accounts.models import User
from aitre import catalog
from aitre.capabilities import Capability
from aitre.client import AitreError
from aitre.credentials import client_for
from lib.remembered import RememberedRow
from usage import metering

from .models import Passage, SearchSettings, VectorSpace

logger = logging.getLogger(__name__)

# A passage is embedded from its first characters: at most 2 tokens a character
# (CJK), so always within the endpoint's 8,192 tokens an input.
EMBED_CHARS = 4000
# What one call carries at most, in characters (well within the API's tokens a request).
CALL_CHARS = 120_000
# A batch is held this long by the worker embedding it (another worker leaves it alone).
CLAIM_SECONDS = 300
# 429s without a quota problem are waited out this many times a batch (Retry-After, else 1, 2, 4, 8 s).
RETRIES = 5
MAX_WAIT_SECONDS = 60.0

_settings = RememberedRow(SearchSettings)
search_settings = _settings.current
forget_settings = _settings.forget


def embedding_model() -> str:
    """The admin's embedding model, if it is offered with the capability; else the first offered; "" when none is."""
    offer = catalog.offer(None, Capability.EMBEDDINGS)
    chosen = search_settings().embedding_model
    if chosen and chosen in offer.names:
        return chosen
    return offer.names[0] if offer.names else ""


def vector_space() -> VectorSpace | None:
    """Where vectors are made and compared now: the embedding model and the length asked of it; None without a model."""
    model = embedding_model()
    return VectorSpace(model, dimensions_for(model)) if model else None


def dimensions_for(model: str) -> int | None:
    """
    The admin's vector length, asked only of models that take it. The model
    list does not say which do; OpenAI's text-embedding-3 family does, and
    an admin whose model also does can say so by naming it in
    SEARCH_SHORTENS_VECTORS.
    """
    dimensions = search_settings().dimensions
    takes_it = model.startswith("text-embedding-3") or model in settings.SEARCH_SHORTENS_VECTORS
    return dimensions if dimensions and takes_it else None


@task()
def embed_passages(owner_id: int) -> None:
    """The worker's job: embed one owner's waiting passages."""
    embed_pending(owner_id)


@task()
def reindex_passages() -> None:
    """The worker's job: queue every owner's passages for the current embedding model (after the admin changed it)."""
    reindex()


def queue_embedding(owner_id: int) -> None:
    if not settings.SEARCH_EMBED:
        return
    embed_passages.enqueue(owner_id)


def _claim(owner_id: int, space: VectorSpace, limit: int) -> list[Passage]:
    """
    The next batch of the owner's passages waiting for ``space``, newest
    first (recent conversations are searched most), held for this worker.
    """
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    waiting = Passage.objects.filter(owner_id=owner_id).waiting_in(space).filter(free)
    chosen: list[int] = []
    size = 0
    for pk, length in waiting.order_by("-pk").values_list("pk", "text_length")[:limit]:
        if chosen and size + min(length, EMBED_CHARS) > CALL_CHARS:
            break
        chosen.append(pk)
        size += min(length, EMBED_CHARS)
    if not chosen:
        return []
    until = now + timedelta(seconds=CLAIM_SECONDS)
    with transaction.atomic():
        Passage.objects.filter(pk__in=chosen).filter(free).update(claimed_until=until)
    return list(Passage.objects.filter(pk__in=chosen, claimed_until=until).only("pk", "text"))


def _release(passages: list[Passage]) -> None:
    Passage.objects.filter(pk__in=[p.pk for p in passages]).update(claimed_until=None)


def _backoff(attempt: int, exc: AitreError) -> float:
    if exc.retry_after is not None:
        return min(MAX_WAIT_SECONDS, exc.retry_after)
    return min(MAX_WAIT_SECONDS, 2.0**attempt) * (0.5 + random.random() / 2)  # noqa: S311 (jitter, not secrets)


def quota_exhausted(exc: AitreError) -> bool:
    return exc.code == "insufficient_quota" or exc.permanent


def call_embeddings(
    user: User, space: VectorSpace, inputs: list[str], *, purpose: str, retries: int = RETRIES
) -> list[np.ndarray]:
    """
    One admitted, recorded embeddings call as ``user``'s, waiting out rate
    limits (Retry-After, else exponential backoff with jitter) ``retries``
    times: the worker's indexing waits, a person's query does not. ``purpose``
    ("indexing" or "query") is the usage record's variant, so the admin sees
    what indexing costs apart from searching. Raises ``metering.Refused`` or
    ``AitreError``.
    """
    with transaction.atomic():
        metering.admit(user, sent=False)
    model = space.model
    price = metering.price_for(model, variant=purpose)
    client = client_for(user)
    for attempt in range(retries + 1):
        started = time.monotonic()
        try:
            embedded = client.embed(model, inputs, dimensions=space.dimensions)
            break
        except AitreError as exc:
            if exc.status != 429 or quota_exhausted(exc) or attempt == retries:
                raise
            wait = _backoff(attempt, exc)
            logger.info("Embeddings rate-limited; waiting %.1f s (attempt %d)", wait, attempt + 1)
            time.sleep(wait)
    usage = embedded.usage
    estimated = usage is None
    tokens = usage.prompt_tokens if usage is not None else sum(len(text) // 4 + 1 for text in inputs)
    # Priced as looked up above, unless the server says it used another model (AITRE's own example does).
    priced: dict[str, Any] = {"price": price} if embedded.model in ("", model) else {}
    metering.record(
        user,
        kind=metering.Kind.EMBEDDING,
        model=embedded.model or model,
        priced_as=(model,),
        prompt_tokens=tokens,
        total_tokens=tokens,
        variant=purpose,
        estimated=estimated,
        duration_ms=int((time.monotonic() - started) * 1000),
        **priced,
    )
    return [vector / (float(np.linalg.norm(vector)) or 1.0) for vector in embedded.vectors]


def embed_pending(owner_id: int) -> int:
    """Embed the owner's waiting passages, batch after batch; how many were embedded."""
    space = vector_space()
    owner = get_user_model().objects.filter(pk=owner_id).first()
    if space is None or owner is None:
        return 0
    done = 0
    while passages := _claim(owner_id, space, search_settings().batch_size):
        try:
            vectors = call_embeddings(owner, space, [p.text[:EMBED_CHARS] for p in passages], purpose="indexing")
        except (AitreError, metering.Refused) as exc:
            _release(passages)
            logger.warning("Search indexing for user %s stopped: %s", owner_id, getattr(exc, "message", exc))
            break
        now = timezone.now()
        for passage, vector in zip(passages, vectors, strict=True):
            passage.vector = vector.astype("<f4").tobytes()
            passage.vector_model, passage.vector_dimensions = space.model, space.dimensions
            passage.embedded_at = now
            passage.claimed_until = None
        Passage.objects.bulk_update(
            passages, ["vector", "vector_model", "vector_dimensions", "embedded_at", "claimed_until"]
        )
        done += len(passages)
    return done


def reindex() -> int:
    """Every owner's passages queued for the current space (after the admin changed it); how many owners."""
    owners = list(Passage.objects.values_list("owner_id", flat=True).distinct())
    for owner_id in owners:
        queue_embedding(owner_id)
    return len(owners)


def progress(user: User, space: VectorSpace | None) -> tuple[int, int]:
    """(passages embedded in ``space``, passages) of ``user``."""
    # Counted on a column of the (owner, vector_model, vector_dimensions, embedded_at) index: the index alone answers.
    in_space = Q(vector_model=space.model, vector_dimensions=space.dimensions) if space else Q(pk__in=[])
    counts = Passage.objects.for_user(user).aggregate(
        total=Count("vector_model"), done=Count("vector_model", filter=in_space)
    )
    return counts["done"], counts["total"]
