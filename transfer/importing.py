"""
Importing conversations: our own JSON (transfer.documents) and ChatGPT's
``conversations.json``, read into plans and checked whole in the request (a
file with any problem changes nothing and says what was wrong, with the line
when it is not JSON, or the conversation and message), then written by the
worker in one transaction (``queue``, ``run``).

Bounds: the file's size (``IMPORT_MAX_MB``, also what a zip's
``conversations.json`` unpacks to), how many conversations and messages it
may hold, how long one message may be.

What is imported is history: messages keep their models, times, tokens and
versions, but no usage record is written, so nothing is billed and no quota
counts it. Pictures are not in a JSON file (only their names), so a message's
pictures are reported as skipped. Search indexes the messages on the worker's
next sweep (their ``updated_at`` is the import's time).

ChatGPT's export: a list of conversations, each a ``mapping`` of nodes
(``id``, ``message``, ``parent``, ``children``) with a ``current_node``.
Branches (a regenerated reply, an edited question) are children of one node,
and become versions. System, tool and hidden nodes, and nodes with no text,
are skipped, their children joined to the nearest kept ancestor; what was
skipped is counted by reason.
"""

import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from chat.models import Conversation, Message
from chat.rendering import render_markdown

from . import documents
from .models import Import

MAX_CONVERSATIONS = 5_000
MAX_MESSAGES = 200_000
MAX_MESSAGE_CHARS = 500_000
TITLE_CHARS = 200
ZIPPED_NAME = "conversations.json"
IMPORTED_STATUSES = {Message.Status.COMPLETE, Message.Status.STOPPED, Message.Status.ERROR, Message.Status.INTERRUPTED}


class ImportProblem(ValueError):
    """What is wrong with a file, in words for the page; nothing was written."""


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


@dataclass
class Report:
    """What ``save`` wrote."""

    conversations: int = 0
    messages: int = 0


# --- Reading a file ----------------------------------------------------------------


def unpack(upload: Any) -> bytes:
    """
    The JSON bytes of an uploaded file, within the size bound: the file
    itself, or the ``conversations.json`` at the top of a zip (this site's
    export, and ChatGPT's, as downloaded).
    """
    limit = settings.IMPORT_MAX_MB * 1024 * 1024
    too_large = _("The file is %(size)s MB; the most an import takes is %(limit)s MB.")
    if upload.size > limit:
        raise ImportProblem(too_large % {"size": round(upload.size / 1024 / 1024, 1), "limit": settings.IMPORT_MAX_MB})
    raw: bytes = upload.read(limit + 1)
    return _from_zip(raw, limit, too_large) if raw.startswith(b"PK\x03\x04") else raw


def parse(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportProblem(_("The file is not text (UTF-8): is it the right file?")) from None
    except RecursionError:
        raise ImportProblem(_("The file's JSON is nested too deeply to be a conversation.")) from None
    except json.JSONDecodeError as error:
        raise ImportProblem(
            _("The file is not valid JSON: line %(line)s, column %(column)s: %(problem)s.")
            % {"line": error.lineno, "column": error.colno, "problem": error.msg}
        ) from None


def _from_zip(raw: bytes, limit: int, too_large: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            member = archive.getinfo(ZIPPED_NAME)
            # The size the zip declares is checked first, and the read is bounded too (a zip may lie).
            if member.file_size > limit:
                raise ImportProblem(
                    too_large % {"size": round(member.file_size / 1024 / 1024, 1), "limit": settings.IMPORT_MAX_MB}
                )
            with archive.open(member) as handle:
                data = handle.read(limit + 1)
    except KeyError:
        raise ImportProblem(_("The zip has no conversations.json at its top.")) from None
    except zipfile.BadZipFile:
        raise ImportProblem(_("The zip is damaged.")) from None
    if len(data) > limit:
        raise ImportProblem(too_large % {"size": f"> {settings.IMPORT_MAX_MB}", "limit": settings.IMPORT_MAX_MB})
    return data


def check(upload: Any) -> tuple[bytes, str, list[ConversationPlan], Counter[str]]:
    """Everything an import needs to know before it is queued: the JSON, its format and its plans; or ImportProblem."""
    raw = unpack(upload)
    return raw, *plan(parse(raw))


def plan(data: Any) -> tuple[str, list[ConversationPlan], Counter[str]]:
    """Which format ``data`` is, and its conversations, checked; or ImportProblem."""
    if isinstance(data, dict) and data.get("schema") in (documents.SCHEMA, documents.EXPORT_SCHEMA):
        return "aitre-web", *plan_ours(data)
    if isinstance(data, list) and all(isinstance(c, dict) and "mapping" in c for c in data):
        return "chatgpt", *plan_chatgpt(data)
    if isinstance(data, dict) and "mapping" in data:
        return "chatgpt", *plan_chatgpt([data])
    raise ImportProblem(
        _("This is neither an export of this site (a JSON file with a “schema”) nor ChatGPT's conversations.json.")
    )


def _bounded(count: int, messages: int) -> None:
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


# --- Our own JSON --------------------------------------------------------------------


class _Reader:
    """Typed reads of one conversation's fields, each failure naming the conversation and the field."""

    def __init__(self, where: str) -> None:
        self.where = where

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
        return value

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


def plan_ours(data: dict[str, Any]) -> tuple[list[ConversationPlan], Counter[str]]:
    if data.get("version") != documents.SCHEMA_VERSION:
        raise ImportProblem(
            _("This file's schema version is %(version)s; this site reads version %(ours)s.")
            % {"version": data.get("version"), "ours": documents.SCHEMA_VERSION}
        )
    items: Any = [data] if data["schema"] == documents.SCHEMA else data.get("conversations")
    if not isinstance(items, list):
        raise ImportProblem(_("“conversations” must be a list."))
    _bounded(len(items), sum(len(c.get("messages") or []) for c in items if isinstance(c, dict)))
    skipped: Counter[str] = Counter()
    plans = [_plan_one(item, number, skipped) for number, item in enumerate(items, start=1)]
    return plans, skipped


def _plan_one(item: Any, number: int, skipped: Counter[str]) -> ConversationPlan:
    where = _("Conversation %(number)s") % {"number": number}
    if not isinstance(item, dict):
        raise ImportProblem(f"{where}: " + _("not an object."))
    if isinstance(item.get("title"), str) and item["title"]:
        where = f"{where} (“{item['title'][:60]}”)"
    read = _Reader(where)
    now = timezone.now()
    conversation = ConversationPlan(
        title=read.text(item, "title", limit=TITLE_CHARS),
        model=read.text(item, "model", limit=200) or settings.AITRE_DEFAULT_MODEL,
        system_prompt=read.text(item, "system_prompt"),
        created_at=read.moment(item, "created_at", now),
        updated_at=read.moment(item, "updated_at", now),
        pinned=bool(item.get("pinned", False)),
        archived=bool(item.get("archived", False)),
    )
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
        at = _Reader(f"{where}, " + _("message %(id)s") % {"id": key})
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
        images = raw.get("images") or []
        if images:
            skipped[_("pictures (a JSON file holds their names, not the pictures)")] += len(images)
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
            )
        )
        seen.add(key)
    current = item.get("current")
    if current is not None and current not in seen:
        raise read.fail(_("“current” names a message that is not in it."))
    conversation.current = current
    return conversation


# --- ChatGPT's conversations.json -----------------------------------------------------


def _chatgpt_time(value: Any, default: datetime) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 32503680000:
        return datetime.fromtimestamp(value, tz=UTC)
    return default


def _chatgpt_text(message: dict[str, Any], skipped: Counter[str]) -> str:
    content = message.get("content") or {}
    kind = content.get("content_type")
    parts = content.get("parts") or []
    if kind not in ("text", "multimodal_text"):
        skipped[_("other content (%(kind)s)") % {"kind": kind or "?"}] += 1
        return ""
    texts = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        else:
            skipped[_("pictures and files (not in conversations.json)")] += 1
    return "\n\n".join(text for text in texts if text).strip()


def plan_chatgpt(items: list[dict[str, Any]]) -> tuple[list[ConversationPlan], Counter[str]]:
    _bounded(len(items), sum(len(c.get("mapping") or {}) for c in items))
    skipped: Counter[str] = Counter()
    plans = []
    for number, item in enumerate(items, start=1):
        where = _("Conversation %(number)s") % {"number": number}
        if isinstance(item.get("title"), str) and item["title"]:
            where = f"{where} (“{item['title'][:60]}”)"
        mapping = item.get("mapping")
        if not isinstance(mapping, dict) or not all(isinstance(node, dict) for node in mapping.values()):
            raise ImportProblem(f"{where}: " + _("“mapping” must be an object of nodes."))
        plans.append(_plan_chatgpt_one(item, mapping, skipped, where))
    return plans, skipped


def _plan_chatgpt_one(
    item: dict[str, Any], mapping: dict[str, dict[str, Any]], skipped: Counter[str], where: str
) -> ConversationPlan:
    now = timezone.now()
    created = _chatgpt_time(item.get("create_time"), now)
    conversation = ConversationPlan(
        title=str(item.get("title") or "")[:TITLE_CHARS],
        model="",
        created_at=created,
        updated_at=_chatgpt_time(item.get("update_time"), created),
    )
    kept: dict[str, str | None] = {}  # node id -> the kept node it hangs from (None: the root)
    # A stack, not recursion: a conversation of thousands of turns is that deep.
    roots = [nid for nid, node in mapping.items() if not node.get("parent") or node.get("parent") not in mapping]
    if not roots:
        raise ImportProblem(f"{where}: " + _("its “mapping” has no root node."))
    stack: list[tuple[str, str | None]] = [(root, None) for root in reversed(roots)]
    visited: set[str] = set()
    while stack:
        node_id, kept_parent = stack.pop()
        if node_id in visited:
            raise ImportProblem(f"{where}: " + _("its “mapping” is not a tree (node %(id)s twice).") % {"id": node_id})
        visited.add(node_id)
        node = mapping[node_id]
        message = node.get("message")
        here = kept_parent
        if isinstance(message, dict):
            plan = _chatgpt_message(node_id, message, kept_parent, created, skipped)
            if plan is not None:
                conversation.messages.append(plan)
                here = node_id
        kept[node_id] = here
        children = [c for c in node.get("children") or [] if c in mapping]
        stack.extend((child, here) for child in reversed(children))
    if conversation.messages:
        # Versions are ordered by when they were made, as ours are.
        conversation.messages.sort(key=lambda m: (m.created_at, m.key))
        # Parents must come before children: a parent made later than its child (clock skew) moves up.
        conversation.messages = _parents_first(conversation.messages)
    current = item.get("current_node")
    conversation.current = kept.get(current) if isinstance(current, str) else None
    if conversation.current is None and conversation.messages:
        conversation.current = conversation.messages[-1].key
    # The model the thread on show last answered with goes on answering.
    by_key = {m.key: m for m in conversation.messages}
    shown = by_key.get(conversation.current or "")
    while shown is not None and not (shown.role == Message.Role.ASSISTANT and shown.model):
        shown = by_key.get(shown.parent or "")
    conversation.model = shown.model if shown else settings.AITRE_DEFAULT_MODEL
    if not conversation.title and conversation.messages:
        conversation.title = Conversation().title_from(conversation.messages[0].content)
    return conversation


def _parents_first(messages: list[MessagePlan]) -> list[MessagePlan]:
    by_key = {m.key: m for m in messages}
    placed: set[str] = set()
    result: list[MessagePlan] = []
    for message in messages:
        chain = []
        current: MessagePlan | None = message
        while current is not None and current.key not in placed:
            chain.append(current)
            current = by_key.get(current.parent) if current.parent else None
        for item in reversed(chain):
            placed.add(item.key)
            result.append(item)
    return result


def _chatgpt_message(
    node_id: str, message: dict[str, Any], parent: str | None, default_time: datetime, skipped: Counter[str]
) -> MessagePlan | None:
    role = (message.get("author") or {}).get("role")
    metadata = message.get("metadata") or {}
    if role == "system":
        skipped[_("system messages")] += 1
        return None
    if role == "tool":
        skipped[_("tool messages")] += 1
        return None
    if role not in ("user", "assistant"):
        skipped[_("other messages (%(role)s)") % {"role": role or "?"}] += 1
        return None
    if metadata.get("is_visually_hidden_from_conversation"):
        skipped[_("hidden messages")] += 1
        return None
    text = _chatgpt_text(message, skipped)
    if not text:
        skipped[_("empty messages")] += 1
        return None
    if len(text) > MAX_MESSAGE_CHARS:
        raise ImportProblem(
            _("Message %(id)s is longer than %(limit)s characters.") % {"id": node_id, "limit": MAX_MESSAGE_CHARS}
        )
    finished = (metadata.get("finish_details") or {}).get("type")
    return MessagePlan(
        key=node_id,
        parent=parent,
        role=role,
        content=text,
        created_at=_chatgpt_time(message.get("create_time"), default_time),
        model=str(metadata.get("model_slug") or "")[:200] if role == "assistant" else "",
        finish_reason={"stop": "stop", "max_tokens": "length"}.get(finished or "", ""),
    )


# --- Writing ---------------------------------------------------------------------------


def save(owner: Any, plans: list[ConversationPlan]) -> Report:
    """Every planned conversation, in one transaction: all of them or none."""
    report = Report()
    now = timezone.now()
    with transaction.atomic():
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(
                    owner=owner,
                    title=p.title,
                    model=p.model,
                    system_prompt=p.system_prompt,
                    temperature=p.temperature,
                    pinned=p.pinned,
                    archived=p.archived,
                    created_at=p.created_at,
                    updated_at=p.updated_at,
                )
                for p in plans
            ]
        )
        # Parents before children: one insert for each depth, across all conversations.
        made: dict[tuple[int, str], Message] = {}
        levels: dict[int, list[tuple[int, MessagePlan]]] = {}
        for index, p in enumerate(plans):
            depth_of: dict[str, int] = {}
            for m in p.messages:
                depth_of[m.key] = depth_of[m.parent] + 1 if m.parent else 0
                levels.setdefault(depth_of[m.key], []).append((index, m))
        for depth in sorted(levels):
            rows = []
            for index, m in levels[depth]:
                rows.append(
                    Message(
                        conversation=conversations[index],
                        parent=made[(index, m.parent)] if m.parent else None,
                        role=m.role,
                        content=m.content,
                        rendered=render_markdown(m.content) if m.role == Message.Role.ASSISTANT else "",
                        status=m.status,
                        model=m.model,
                        finish_reason=m.finish_reason,
                        error=m.error,
                        prompt_tokens=m.prompt_tokens,
                        completion_tokens=m.completion_tokens,
                        total_tokens=m.total_tokens,
                        usage_estimated=m.usage_estimated,
                        ttft_ms=m.ttft_ms,
                        duration_ms=m.duration_ms,
                        created_at=m.created_at,
                        # The import's time: the search sweep indexes what changed recently.
                        updated_at=now,
                    )
                )
            for (index, m), row in zip(levels[depth], Message.objects.bulk_create(rows), strict=True):
                made[(index, m.key)] = row
        leaves = []
        for index, p in enumerate(plans):
            if p.current:
                conversations[index].current_leaf = made[(index, p.current)]
                leaves.append(conversations[index])
        Conversation.objects.bulk_update(leaves, ["current_leaf"])
    report.conversations = len(conversations)
    report.messages = len(made)
    return report


# --- In the background ------------------------------------------------------------------


def queue(owner: Any, upload: Any) -> Import:
    """
    Check ``upload`` now (a bad file is refused in the request, with what is
    wrong), keep its JSON, and leave the writing to the worker: a heavy
    user's history (50,000 messages) takes longer to write and render than a
    request should.
    """
    raw, source, plans, skipped = check(upload)
    record = Import(
        owner=owner,
        name=str(getattr(upload, "name", "") or "")[:255],
        source=source,
        conversations=len(plans),
        messages=sum(len(p.messages) for p in plans),
        skipped=dict(skipped),
    )
    record.upload.save("import.json", ContentFile(raw), save=False)
    record.save()
    from . import tasks

    tasks.run_import.enqueue(str(record.pk))
    return record


def run(record: Import) -> None:
    """The worker's part: the kept JSON planned again and written, all of it or nothing."""
    if not record.claim():
        return
    try:
        with record.upload.open("rb") as handle:
            _source, plans, _skipped = plan(parse(handle.read()))
        report = save(record.owner, plans)
    except Exception as error:
        record.fail(str(error) or type(error).__name__)
        raise
    Import.objects.filter(pk=record.pk).update(
        status=Import.Status.DONE,
        conversations=report.conversations,
        messages=report.messages,
        finished_at=timezone.now(),
        **record.forget_files(),
    )


def settle_stale() -> int:
    """Imports whose worker died mid-way (their transaction rolled back): failed, their file gone."""
    return Import.settle_stale(_("The import was interrupted; nothing was written."))
