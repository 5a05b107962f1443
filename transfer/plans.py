"""
What an import reads a file into, before anything is written: a ``Plan`` of
conversations (``ConversationPlan``, each with its ``MessagePlan``s and the
``Picture``s they carry), what was skipped, left out or cleaned. Each format
has its reader (transfer.ours, transfer.chatgpt); transfer.importing writes
a plan. The bounds every format shares are here.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from chat.models import Message

MAX_CONVERSATIONS = 5_000
MAX_MESSAGES = 200_000
MAX_MESSAGE_CHARS = 500_000
TITLE_CHARS = 200
# What no database stores in text: NUL, and half of a surrogate pair (JSON can spell one alone).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def pixels(value: Any) -> int | None:
    """A picture's width or height as a file gives it: a whole number, or nothing."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def storable(text: str) -> str:
    """``text`` as any database stores it (what a report says may quote the file: a node id, a content type)."""
    return UNSTORABLE.sub("\ufffd", text)


class ImportProblem(ValueError):
    """What is wrong with a file as a whole, in words for the page; nothing was written."""


@dataclass
class Picture:
    """A picture a message carries: where it is in the zip ("" when the file does not hold it), and its name."""

    name: str
    path: str
    key: str
    width: int | None = None
    height: int | None = None


@dataclass
class MessagePlan:
    key: str
    parent: str | None
    role: str
    content: str
    created_at: datetime
    status: str = Message.Status.COMPLETE
    model: str = ""
    finish_reason: str = ""
    error: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    usage_estimated: bool = False
    ttft_ms: int | None = None
    duration_ms: int | None = None
    pictures: list[Picture] = field(default_factory=list)


@dataclass
class ConversationPlan:
    title: str
    model: str
    created_at: datetime
    updated_at: datetime
    messages: list[MessagePlan] = field(default_factory=list)
    current: str | None = None
    system_prompt: str = ""
    temperature: float | None = None
    pinned: bool = False
    archived: bool = False
    # Conversation.import_key: what recognises it when the same file comes again ("" when nothing does).
    key: str = ""
    # For the notes: "Conversation 3 (“Title”)".
    where: str = ""


@dataclass
class Plan:
    """A whole file read: its format, the conversations to write, and what was left out or cleaned."""

    source: str
    conversations: list[ConversationPlan] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    # Characters replaced, by conversation (its ``where``).
    cleaned: Counter[str] = field(default_factory=Counter)
    # Why each conversation left out was.
    refused: list[str] = field(default_factory=list)

    def left_out(self, problem: ImportProblem) -> None:
        self.refused.append(str(problem))
        self.notes.append(_("Left out: %(problem)s") % {"problem": problem})

    def check_something_is_left(self) -> None:
        """A file none of whose conversations could be read has failed, saying why (the first few reasons)."""
        if not self.conversations and self.refused:
            more = len(self.refused) - 3
            said = "; ".join(self.refused[:3])
            raise ImportProblem(said + (" " + _("(and %(count)s more)") % {"count": more} if more > 0 else ""))

    def clean(self, text: str, where: str) -> str:
        if not UNSTORABLE.search(text):
            return text
        cleaned, count = UNSTORABLE.subn("\ufffd", text)
        self.cleaned[where] += count
        return cleaned

    def say_cleaned(self) -> None:
        for where, count in self.cleaned.items():
            self.notes.append(
                _("%(where)s: %(count)s characters no database can store were replaced by “�”.")
                % {"where": where, "count": count}
            )


def bounded(count: int, messages: int) -> None:
    if count > MAX_CONVERSATIONS:
        raise ImportProblem(
            _("The file holds %(count)s conversations; an import takes at most %(limit)s.")
            % {"count": count, "limit": MAX_CONVERSATIONS}
        )
    if messages > MAX_MESSAGES:
        raise ImportProblem(
            _("The file holds %(count)s messages; an import takes at most %(limit)s.")
            % {"count": messages, "limit": MAX_MESSAGES}
        )


def conversation_label(number: int, item: Any) -> str:
    where = _("Conversation %(number)s") % {"number": number}
    title = item.get("title") if isinstance(item, dict) else None
    if isinstance(title, str) and title:
        where = f"{where} (“{UNSTORABLE.sub('', title[:60])}”)"
    return where
