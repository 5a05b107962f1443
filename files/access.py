"""
Who may open a file: its owner, and no one else, unless a feature says so.

The one exception today is the audited permission that guards message text
(``chat.privacy``): chat registers it here, so an admin who may read other
people's conversations may open their images too, and every such opening is
recorded. Files depends on no feature; features register what they allow.
"""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser

from accounts.models import User

from .models import StoredFile

OthersReader = Callable[[Any, StoredFile], bool]
_readers: list[OthersReader] = []


def others_may_read(reader: OthersReader) -> OthersReader:
    """Register a check (and its audit) for a reader who is not the file's owner; from AppConfig.ready()."""
    if reader not in _readers:
        _readers.append(reader)
    return reader


def readable_by(user: User | AnonymousUser, pk: Any) -> StoredFile | None:
    """The file, if ``user`` may open it; None for anyone else (answered as 404, like a file that is not there)."""
    if not user.is_authenticated:
        return None
    stored = StoredFile.objects.filter(pk=pk).first()
    if stored is None:
        return None
    if stored.owner_id == user.pk:
        return stored
    return stored if any(reader(user, stored) for reader in _readers) else None
