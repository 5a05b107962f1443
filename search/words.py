"""
Search by words, with each database's own full-text index (made by the
migrations): PostgreSQL's tsvector (a stored generated column under a GIN
index, in the language of SEARCH_LANGUAGE, queried and ranked by cover
density through django.contrib.postgres.search) and SQLite's FTS5 (an
external-content table kept by triggers, with the porter stemmer, ranked by
BM25; it indexes the owner too, and a query reads only the searcher's
entries, so a search costs what that user has, not what the site has).
Every word is a prefix, every word is required;
Chinese goes through ``search.text`` first on both.

Other databases fall back to a substring scan of the passages.
"""

from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL

from .models import Passage, PassageQuerySet
from .text import Query

CANDIDATES = 200


def ranked(owner_id: int, query: Query, limit: int = CANDIDATES, *, within: PassageQuerySet | None = None) -> list[int]:
    """
    The owner's passages that hold every term, best first (passage ids);
    ``within``, a queryset of passages, narrows them (the search's filters).
    """
    if query.empty:
        return []
    if connection.vendor == "sqlite":
        narrowed, narrowed_params = "", []
        if within is not None:
            sub, sub_params = within.values("pk").query.sql_with_params()
            narrowed, narrowed_params = f" AND p.id IN ({sub})", list(sub_params)
        # The narrowing is Django's own SQL for a queryset, its values passed as parameters.
        sql = (
            "SELECT p.id FROM search_passage_fts f JOIN search_passage p ON p.id = f.rowid "  # noqa: S608
            f"WHERE search_passage_fts MATCH %s AND p.owner_id = %s{narrowed} "
            "ORDER BY bm25(search_passage_fts, 1.0, 0.0) LIMIT %s"
        )
        # The owner's own entries only (the index holds owner_id too: see migration 0004).
        matched = f'owner_id : "{int(owner_id)}" AND terms : ({query.fts5()})'
        params: list[Any] = [matched, owner_id, *narrowed_params, limit]
    elif connection.vendor == "postgresql":
        return _postgres(owner_id, query, limit, within)
    else:
        found = (within if within is not None else Passage.objects.all()).filter(owner_id=owner_id)
        for term in query.markers():
            found = found.filter(text__icontains=term)
        return list(found.order_by("-pk").values_list("pk", flat=True)[:limit])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _postgres(owner_id: int, query: Query, limit: int, within: PassageQuerySet | None) -> list[int]:
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField

    # The column the migration added, which the model does not declare.
    document = RawSQL('"search_passage"."fts"', (), output_field=SearchVectorField())
    wanted = SearchQuery(query.tsquery(), search_type="raw", config=settings.SEARCH_LANGUAGE)
    found = (
        (within if within is not None else Passage.objects.all())
        .filter(owner_id=owner_id)
        .annotate(document=document)
        .filter(document=wanted)
        .annotate(rank=SearchRank(document, wanted, cover_density=True))
        .order_by("-rank", "-pk")
    )
    return list(found.values_list("pk", flat=True)[:limit])
