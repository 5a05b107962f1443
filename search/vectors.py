"""
Search by meaning: the nearest of the owner's passages to the query's
vector, by cosine (vectors are kept normalized), over vectors of one model
only. Exact search in the app with numpy: each process keeps a user's
vectors as one float32 matrix (SEARCH_VECTOR_CACHE_MB in all, least
recently used dropped first), topped up with what was embedded since, and
reloaded when passages were deleted or re-embedded. 50,000 passages of 256
floats is 51 MB and one matrix product of a few milliseconds.

pgvector is not used (see the README): an approximate index pays off past
what one user's history holds, and exact search needs no extension.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Max

from .models import Passage, VectorSpace

NEIGHBOURS = 100


@dataclass
class _Matrix:
    count: int
    newest: datetime | None
    ids: np.ndarray
    vectors: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.vectors.nbytes)


_lock = threading.Lock()
_matrices: "OrderedDict[tuple[int, VectorSpace], _Matrix]" = OrderedDict()


def forget() -> None:
    with _lock:
        _matrices.clear()


def _load(rows: list[tuple[int, Any]], width: int | None) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, width or 0), dtype=np.float32)
    ids = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(bytes(blob) for _, blob in rows), dtype="<f4").reshape(len(rows), -1)
    return ids, vectors.astype(np.float32, copy=False)


def matrix(owner_id: int, space: VectorSpace) -> _Matrix:
    """The owner's vectors in ``space``, as this process keeps them, brought up to date."""
    embedded = Passage.objects.filter(owner_id=owner_id).embedded_in(space)
    # On columns of the (owner, vector_model, vector_dimensions, embedded_at) index: the index alone answers.
    stamp = embedded.aggregate(count=Count("vector_model"), newest=Max("embedded_at"))
    key = (owner_id, space)
    with _lock:
        kept = _matrices.get(key)
    if kept is not None and kept.count == stamp["count"] and kept.newest == stamp["newest"]:
        with _lock:
            _matrices.move_to_end(key)
        return kept
    if kept is not None and kept.newest is not None:
        newer = list(embedded.filter(embedded_at__gt=kept.newest).values_list("pk", "vector"))
        if kept.count + len(newer) == stamp["count"] and not np.isin([pk for pk, _ in newer], kept.ids).any():
            # One space, one length: what was embedded since goes under what is kept.
            ids, vectors = _load(newer, kept.vectors.shape[1])
            topped_up = np.concatenate([kept.ids, ids]), np.concatenate([kept.vectors, vectors])
            return _keep(key, _Matrix(stamp["count"], stamp["newest"], *topped_up))
    ids, vectors = _load(list(embedded.values_list("pk", "vector")), None)
    return _keep(key, _Matrix(stamp["count"], stamp["newest"], ids, vectors))


def _keep(key: tuple[int, VectorSpace], kept: _Matrix) -> _Matrix:
    budget = settings.SEARCH_VECTOR_CACHE_MB * 1024 * 1024
    with _lock:
        _matrices[key] = kept
        _matrices.move_to_end(key)
        while len(_matrices) > 1 and sum(m.nbytes for m in _matrices.values()) > budget:
            _matrices.popitem(last=False)
    return kept


def nearest(owner_id: int, space: VectorSpace, query: np.ndarray, limit: int = NEIGHBOURS) -> list[tuple[int, float]]:
    """(passage id, similarity) of the owner's closest passages, closest first, above SEARCH_MIN_SIMILARITY."""
    kept = matrix(owner_id, space)
    if not len(kept.ids) or kept.vectors.shape[1] != query.shape[0]:
        return []
    scores = kept.vectors @ query.astype(np.float32)
    count = min(limit, len(scores))
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best], kind="stable")]
    floor = settings.SEARCH_MIN_SIMILARITY
    return [(int(kept.ids[i]), float(scores[i])) for i in best if scores[i] >= floor]
