"""
This site's own JSON read into a plan: one conversation (``SCHEMA``) or an
account's export (``EXPORT_SCHEMA``), the schema of transfer.documents.
Each conversation is read on its own: one that cannot be is left out and
named (the field, the message), the rest come in.
"""

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from chat.models import Message

from . import documents, restoring
from .plans import (
    MAX_MESSAGE_CHARS,
    TITLE_CHARS,
    UNSTORABLE,
    ConversationPlan,
    ImportProblem,
    MessagePlan,
    Picture,
    Plan,
    bounded,
    conversation_label,
    pixels,
)

IMPORTED_STATUSES = {Message.Status.COMPLETE, Message.Status.STOPPED, Message.Status.ERROR, Message.Status.INTERRUPTED}


class _Reader:
    """Typed reads of one conversation's fields, each failure naming the conversation and the field."""

    def __init__(self, where: str, found: Plan, conversation: str | None = None) -> None:
        self.where = where
        self.found = found
        # Cleaning is said per conversation, whichever message it was in.
        self.conversation = conversation or where

    def fail(self, problem: str) -> ImportProblem:
        return ImportProblem(f"{self.where}: {problem}")

    def text(self, data: dict[str, Any], key: str, *, default: str = "", limit: int = MAX_MESSAGE_CHARS) -> str:
        value = data.get(key, default)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise self.fail(_("“%(key)s” must be text.") % {"key": key})
        if len(value) > limit:
            raise self.fail(_("“%(key)s” is longer than %(limit)s characters.") % {"key": key, "limit": limit})
        return self.found.clean(value, self.conversation)

    def count(self, data: dict[str, Any] | None, key: str) -> int | None:
        value = (data or {}).get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(_("“%(key)s” must be a whole number, 0 or more.") % {"key": key})
        return value

    def moment(self, data: dict[str, Any], key: str, default: datetime) -> datetime:
        value = data.get(key)
        if value is None:
            return default
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise self.fail(_("“%(key)s” must be a date and time (ISO 8601).") % {"key": key})
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def plan(data: dict[str, Any]) -> Plan:
    if data.get("version") != documents.SCHEMA_VERSION:
        raise ImportProblem(
            _("This file's schema version is %(version)s; this site reads version %(ours)s.")
            % {"version": data.get("version"), "ours": documents.SCHEMA_VERSION}
        )
    items: Any = [data] if data["schema"] == documents.SCHEMA else data.get("conversations")
    if not isinstance(items, list):
        raise ImportProblem(_("“conversations” must be a list."))
    bounded(len(items), sum(len(c.get("messages") or []) for c in items if isinstance(c, dict)))
    found = Plan(source="aitre-web")
    for number, item in enumerate(items, start=1):
        try:
            found.conversations.append(_plan_one(item, number, found))
        except ImportProblem as problem:
            found.left_out(problem)
    found.say_cleaned()
    return found


def _our_key(item: dict[str, Any], conversation: ConversationPlan) -> str:
    key = item.get("key")
    if isinstance(key, str) and 0 < len(key) <= 120:
        return UNSTORABLE.sub("", key)
    # An export from before keys: its creation time and title are as good as an id.
    return f"aitre-web:{conversation.created_at.isoformat()}:{conversation.title}"[:120]


def _plan_one(item: Any, number: int, found: Plan) -> ConversationPlan:
    where = conversation_label(number, item)
    if not isinstance(item, dict):
        raise ImportProblem(f"{where}: " + _("not an object."))
    read = _Reader(where, found)
    now = timezone.now()
    conversation = ConversationPlan(
        title=read.text(item, "title", limit=TITLE_CHARS),
        model=read.text(item, "model", limit=200) or settings.AITRE_DEFAULT_MODEL,
        system_prompt=read.text(item, "system_prompt"),
        created_at=read.moment(item, "created_at", now),
        updated_at=read.moment(item, "updated_at", now),
        pinned=bool(item.get("pinned", False)),
        archived=bool(item.get("archived", False)),
        where=where,
    )
    conversation.key = _our_key(item, conversation)
    temperature = item.get("temperature")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)):
        raise read.fail(_("“temperature” must be a number."))
    conversation.temperature = temperature
    messages = item.get("messages")
    if not isinstance(messages, list):
        raise read.fail(_("“messages” must be a list."))
    seen: set[str] = set()
    for raw in messages:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
            raise read.fail(_("every message needs an “id”."))
        key = raw["id"]
        at = _Reader(f"{where}, " + _("message %(id)s") % {"id": UNSTORABLE.sub("", key[:40])}, found, where)
        if key in seen:
            raise at.fail(_("the id is used twice."))
        parent = raw.get("parent")
        if parent is not None and parent not in seen:
            raise at.fail(_("its parent %(parent)s is not before it in the file.") % {"parent": parent})
        role = raw.get("role")
        if role not in (Message.Role.USER, Message.Role.ASSISTANT):
            raise at.fail(_("“role” must be “user” or “assistant”."))
        status = raw.get("status", Message.Status.COMPLETE)
        if status not in IMPORTED_STATUSES:
            raise at.fail(
                _("“status” must be one of: %(statuses)s.") % {"statuses": ", ".join(sorted(IMPORTED_STATUSES))}
            )
        usage = raw.get("usage")
        if usage is not None and not isinstance(usage, dict):
            raise at.fail(_("“usage” must be an object."))
        timing = raw.get("timing") or {}
        if not isinstance(timing, dict):
            raise at.fail(_("“timing” must be an object."))
        conversation.messages.append(
            MessagePlan(
                key=key,
                parent=parent,
                role=role,
                content=at.text(raw, "content"),
                created_at=at.moment(raw, "created_at", conversation.created_at),
                status=status,
                model=at.text(raw, "model", limit=200),
                finish_reason=at.text(raw, "finish_reason", limit=32),
                error=at.text(raw, "error"),
                prompt_tokens=at.count(usage, "prompt_tokens"),
                completion_tokens=at.count(usage, "completion_tokens"),
                total_tokens=at.count(usage, "total_tokens"),
                usage_estimated=bool((usage or {}).get("estimated", False)),
                ttft_ms=at.count(timing, "ttft_ms"),
                duration_ms=at.count(timing, "duration_ms"),
                pictures=_our_pictures(raw.get("images")),
            )
        )
        seen.add(key)
    current = item.get("current")
    if current is not None and current not in seen:
        raise read.fail(_("“current” names a message that is not in it."))
    conversation.current = current
    return conversation


def _our_pictures(images: Any) -> list[Picture]:
    pictures = []
    for image in images if isinstance(images, list) else []:
        if not isinstance(image, dict) or not isinstance(image.get("file"), str):
            continue
        path = image["file"]
        found = restoring.file_id(path)
        width, height = image.get("width"), image.get("height")
        pictures.append(
            Picture(
                name=UNSTORABLE.sub("", str(image.get("name") or ""))[:255],
                path=path if found else "",
                key=f"file:{found}" if found else "",
                width=pixels(width),
                height=pixels(height),
            )
        )
    return pictures
