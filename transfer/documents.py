"""
A conversation as a document: the JSON schema our exports and imports share,
and the Markdown a person reads.

The JSON (``SCHEMA``, version ``SCHEMA_VERSION``) holds the whole message
tree: every version of every message, in creation order, each naming its
parent, with its model, status, times, usage and timing. Ids in a document
are its own ("m1", "m2", ...), never the database's. docs: README, "Export
and import". A new field is a new optional key; a change of meaning bumps
the version, and the importer says which versions it reads.

{
  "schema": "aitre-web/conversation", "version": 1,
  "title": str, "model": str, "system_prompt": str, "temperature": float | null,
  "pinned": bool, "archived": bool, "created_at": ISO 8601, "updated_at": ISO 8601,
  "current": message id | null,          # the leaf on show: the versions chosen
  "key": str,                            # what an import recognises it by, imported twice
  "messages": [{
    "id": str, "parent": str | null, "role": "user" | "assistant",
    "content": str, "status": "complete" | "stopped" | "error" | "interrupted",
    "model": str, "finish_reason": str, "error": str,
    "created_at": ISO 8601,
    "usage": {"prompt_tokens": int, "completion_tokens": int, "total_tokens": int, "estimated": bool} | null,
    "timing": {"ttft_ms": int | null, "duration_ms": int | null},
    "images": [{"name": str, "file": str, "width": int | null, "height": int | null}]
  }]
}

An account's export wraps conversations in {"schema": "aitre-web/export",
"version": 1, "exported_at": ..., "conversations": [...]}.
"""

import re
import uuid
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from chat.models import Conversation, Message
from chat.threads import finished_on_show
from files.models import StoredFile

# A kept picture linked from a reply's text (chat.pictures rewrites replies to these).
_LINKED = re.compile(r"/files/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

SCHEMA = "aitre-web/conversation"
EXPORT_SCHEMA = "aitre-web/export"
SCHEMA_VERSION = 1


def file_path(stored: StoredFile) -> str:
    """Where a kept file sits inside an export's zip: its id, and its stored format's extension."""
    name = stored.blob.name or ""
    dot = name.rfind(".")
    return f"files/{stored.pk}{name[dot:] if dot >= 0 and len(name) - dot <= 6 else ''}"


def _paths_of(messages: Iterable[Message]) -> dict[str, str]:
    """The zip paths of the pictures ``messages`` carry, by file id: one query."""
    ids = set()
    for part in (part for m in messages for part in m.parts or [] if part.get("file")):
        try:
            ids.add(uuid.UUID(str(part["file"])))
        except ValueError:
            continue  # not a kept file's id: named as it is, at no path in the zip
    return {str(stored.pk): file_path(stored) for stored in StoredFile.objects.filter(pk__in=ids)}


def _images(message: Message, paths: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "name": part.get("name", ""),
            # A picture deleted from the library since is still named, at the path it would have had.
            "file": paths.get(str(part["file"]), f"files/{part['file']}"),
            "width": part.get("width"),
            "height": part.get("height"),
        }
        for part in message.parts or []
        if part.get("file")
    ]


def message_document(message: Message, ids: dict[int, str], paths: dict[str, str]) -> dict[str, Any]:
    usage = None
    if message.total_tokens is not None:
        usage = {
            "prompt_tokens": message.prompt_tokens,
            "completion_tokens": message.completion_tokens,
            "total_tokens": message.total_tokens,
            "estimated": message.usage_estimated,
        }
    return {
        "id": ids[message.pk],
        "parent": ids.get(message.parent_id) if message.parent_id else None,
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "model": message.model,
        "finish_reason": message.finish_reason,
        "error": message.error,
        "created_at": message.created_at.isoformat(),
        "usage": usage,
        "timing": {"ttft_ms": message.ttft_ms, "duration_ms": message.duration_ms},
        "images": _images(message, paths),
    }


def conversation_document(conversation: Conversation) -> dict[str, Any]:
    """The whole tree of ``conversation``, every version, parents before children."""
    messages = list(conversation.messages.exclude(status__in=Message.LIVE_STATUSES).order_by("pk"))
    ids = {m.pk: f"m{n}" for n, m in enumerate(messages, start=1)}
    paths = _paths_of(messages)
    current = conversation.current_leaf_id if conversation.current_leaf_id in ids else None
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "title": conversation.title,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "temperature": conversation.temperature,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "current": ids[current] if current else None,
        "key": conversation.import_key or f"aitre-web:{conversation.created_at.isoformat()}:{conversation.pk}",
        "messages": [message_document(m, ids, paths) for m in messages],
    }


def export_document(conversations: Iterable[Conversation]) -> dict[str, Any]:
    return {
        "schema": EXPORT_SCHEMA,
        "version": SCHEMA_VERSION,
        "exported_at": timezone.now().isoformat(),
        "conversations": [conversation_document(c) for c in conversations],
    }


def pictures_on_show(conversation: Conversation) -> list[StoredFile]:
    """The kept pictures the versions on show carry (as parts, or linked in a reply's text), for a Markdown zip."""
    ids: set[uuid.UUID] = set()
    for message in finished_on_show(conversation):
        for value in [part.get("file") for part in message.parts or [] if part.get("file")] + _LINKED.findall(
            message.content
        ):
            try:
                ids.add(uuid.UUID(str(value)))
            except ValueError:
                continue
    return list(StoredFile.objects.filter(owner_id=conversation.owner_id, pk__in=ids))


def markdown(conversation: Conversation, *, user_label: str, assistant_label: str) -> str:
    """The conversation as a person reads it: the versions on show, pictures as links into the export's zip."""
    lines = [f"# {conversation.display_title}", ""]
    lines.append(f"*{conversation.model} · {timezone.localtime(conversation.created_at):%Y-%m-%d %H:%M}*")
    lines.append("")
    if conversation.system_prompt:
        lines += ["> " + line for line in conversation.system_prompt.splitlines()] + [""]
    shown = finished_on_show(conversation)
    paths = _paths_of(shown)
    linked = {m.group(1) for message in shown for m in _LINKED.finditer(message.content)}
    paths |= {str(f.pk): file_path(f) for f in StoredFile.objects.filter(pk__in=linked - paths.keys())}
    for message in shown:
        author = user_label if message.role == Message.Role.USER else (message.model or assistant_label)
        lines += [f"## {author}", ""]
        for image in _images(message, paths):
            lines += [f"![{image['name'] or 'image'}]({image['file']})", ""]
        # A reply's kept pictures are linked as files of the zip, as the question's are.
        text = _LINKED.sub(lambda link: paths.get(link.group(1), f"files/{link.group(1)}"), message.content.rstrip())
        lines += [text, ""]
    return "\n".join(lines).rstrip() + "\n"
