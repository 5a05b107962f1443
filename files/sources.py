"""
Where a file came from, as a link: each feature that makes files registers
how to name its own (from AppConfig.ready()), so the media library can open
the conversation or the studio run behind a picture without files knowing
either. One query per source for a whole page of files.

And what a feature does when one of its files is deleted from the library
(``when_deleted``): a conversation that showed the picture says it was
deleted, rather than showing a broken image.
"""

from collections.abc import Callable, Iterable
from typing import Any

from .models import StoredFile

# (url, label) for each file of one source, by the file's id.
Origins = dict[Any, tuple[str, str]]
OriginLinks = Callable[[list[StoredFile]], Origins]
_links: dict[str, OriginLinks] = {}


def link_origins(sources: Iterable[str], links: OriginLinks) -> OriginLinks:
    for source in sources:
        _links[source] = links
    return links


def origins(files: Iterable[StoredFile]) -> Origins:
    by_source: dict[str, list[StoredFile]] = {}
    for stored in files:
        by_source.setdefault(stored.source, []).append(stored)
    found: Origins = {}
    for source, group in by_source.items():
        links = _links.get(source)
        if links is not None:
            found.update(links(group))
    return found


Forget = Callable[[StoredFile], None]
_forgetters: dict[str, Forget] = {}


def when_deleted(sources: Iterable[str], forget: Forget) -> Forget:
    for source in sources:
        _forgetters[source] = forget
    return forget


def forget(stored: StoredFile) -> None:
    """Tell the feature behind ``stored`` that it is about to be deleted (inside the deleting transaction)."""
    forgetter = _forgetters.get(stored.source)
    if forgetter is not None:
        forgetter(stored)
