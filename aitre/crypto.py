"""
Encryption at rest for stored API keys.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS``, newest first: encryption
uses the first, decryption tries each, so rotating is "prepend the new key,
run ``manage.py rotate_api_keys``, drop the old key".
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext, or "" when no configured key can read the token."""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


def rotate(token: str) -> str:
    return _current().rotate(token.encode()).decode()
