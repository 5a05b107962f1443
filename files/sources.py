"""
Where a file came from, as a link: each feature that makes files registers
how to name its own (from AppConfig.ready()), so the media library can open
the conversation or the studio run behind a picture without files knowing
either. One query per source for a whole page of files.
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
