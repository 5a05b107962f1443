"""
What feature apps add to the chat pages without chat knowing them: a piece
of the composer (voice's microphone), a piece of a finished reply's actions
(voice's "Read aloud"), a section of the Settings page, and the module script
that brings them to life. Each is a template name; a feature registers them
in its AppConfig.ready, so dependencies still point from features to chat.

The templates are rendered with the page's own context: the composer's
pieces see ``conversation`` and ``offer``, a reply's see ``m`` (the message).
"""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Extension:
    composer: str = ""
    reply_actions: str = ""
    settings_section: str = ""
    # A static path, loaded as a module on the chat pages.
    script: str = ""


_registered: list[Extension] = []


def register(extension: Extension) -> None:
    if extension not in _registered:
        _registered.append(extension)


def context(request: HttpRequest) -> dict[str, Any]:
    """A context processor: the chat pages' templates include what is registered here."""
    return {
        "chat_composer_parts": [e.composer for e in _registered if e.composer],
        "chat_reply_actions": [e.reply_actions for e in _registered if e.reply_actions],
        "chat_settings_sections": [e.settings_section for e in _registered if e.settings_section],
        "chat_scripts": [e.script for e in _registered if e.script],
    }
