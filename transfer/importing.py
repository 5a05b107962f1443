"""
Importing conversations: this site's export (its zip, with the pictures,
recordings, transcripts and settings it holds, or a conversation's JSON) and
ChatGPT's (its zip, pictures included, or the conversations.json inside).

The request does only what is cheap (``queue``): the size, and for a zip,
that it opens and holds a conversations.json within the bound. It keeps the
file and answers; the worker (its ``imports`` queue, so no other job waits
behind a long import) does the rest in ``run``: reads and plans the JSON,
restores the files, writes every conversation in one transaction, then has
search index what came in at once (``chat.signals.conversations_imported``).

Imports forgive bad parts and say what they left out:
- a conversation that cannot be read is left out, named, with the reason
  (``Import.notes``); the file is refused whole only when nothing in it is a
  conversation, or it is past the bounds;
- text no database stores (NUL, an unpaired surrogate) becomes U+FFFD, and
  the note says in which conversation;
- a conversation imported before (ChatGPT's conversation id, our export's
  ``key``: ``Conversation.import_key``) is skipped and counted, and a file
  kept from the same export before is linked again, not copied;
- a picture that cannot be brought in leaves a visible line in its message.

Bounds: the upload's size (``IMPORT_MAX_MB``, also what a zip's
``conversations.json`` unpacks to), how many conversations and messages it
may hold, how long one message may be.

What is imported is history: messages keep their models, times, tokens and
versions, but no usage record is written, so nothing is billed and no quota
counts it.

ChatGPT's export: a list of conversations, each a ``mapping`` of nodes
(``id``, ``message``, ``parent``, ``children``) with a ``current_node``.
Branches (a regenerated reply, an edited question) are children of one node,
and become versions. Code the model ran is kept as a code block with its
output; pictures (``image_asset_pointer`` parts, files in the zip) are kept
as the user's files. System, hidden and other tool nodes, and nodes with no
text, are skipped, their children joined to the nearest kept ancestor; what
was skipped is counted by reason.
"""

import json
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from chat.models import Conversation, Message
from chat.rendering import render_markdown
from chat.signals import conversations_imported
from files.models import StoredFile

from . import documents, restoring
from .models import Import

MAX_CONVERSATIONS = 5_000
MAX_MESSAGES = 200_000
MAX_MESSAGE_CHARS = 500_000
TITLE_CHARS = 200
ZIPPED_NAME = "conversations.json"
IMPORTED_STATUSES = {Message.Status.COMPLETE, Message.Status.STOPPED, Message.Status.ERROR, Message.Status.INTERRUPTED}
# What no database stores in text: NUL, and half of a surrogate pair (JSON can spell one alone).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A link to a kept file in a message's text (a picture reply): re-pointed to the restored copy.
_FILE_LINK = re.compile(r"/files/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
# Keys lists are queried in slices (SQLite's bound on a statement's variables).
KEY_SLICE = 500


class ImportProblem(ValueError):
    """What is wrong with a file as a whole, in words for the page; nothing was written."""


class Cancelled(Exception):
    """The person cancelled the import while it ran: everything it did is undone."""


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
        if not _UNSTORABLE.search(text):
            return text
        cleaned, count = _UNSTORABLE.subn("\ufffd", text)
        self.cleaned[where] += count
        return cleaned

    def say_cleaned(self) -> None:
        for where, count in self.cleaned.items():
            self.notes.append(
                _("%(where)s: %(count)s characters no database can store were replaced by “�”.")
                % {"where": where, "count": count}
            )


@dataclass
class Report:
    """What ``save`` wrote."""

    conversations: int = 0
    messages: int = 0
    written: list[Conversation] = field(default_factory=list)


# --- In the request ------------------------------------------------------------------


def _limit() -> int:
    return int(settings.IMPORT_MAX_MB * 1024 * 1024)


def _megabytes(size: int) -> str:
    # Never "50.0 MB" for a file just over 50 MB: enough digits to differ from the limit.
    return f"{size / 1024 / 1024:.2f}".rstrip("0").rstrip(".")


def too_large(size: int) -> ImportProblem:
    return ImportProblem(
        _("The file is %(size)s MB; an import takes files of at most %(limit)s MB.")
        % {"size": _megabytes(size), "limit": settings.IMPORT_MAX_MB}
    )


def unpacks_too_large(size: int | None) -> ImportProblem:
    return ImportProblem(
        _(
            "The zip's conversations.json unpacks to %(size)s MB; an import reads at most %(limit)s MB of "
            "conversations (the zip itself may be smaller: text compresses well)."
        )
        % {
            "size": _megabytes(size) if size is not None else f"> {settings.IMPORT_MAX_MB}",
            "limit": settings.IMPORT_MAX_MB,
        }
    )


def inspect(upload: Any) -> bool:
    """
    The cheap checks, in the request: the size, and for a zip (True), that it
    opens and holds a conversations.json that unpacks within the bound (from
    its directory: nothing is unpacked here). Raises ImportProblem.
    """
    if upload.size > _limit():
        raise too_large(upload.size)
    upload.seek(0)
    is_zip = upload.read(4) == b"PK\x03\x04"
    upload.seek(0)
    if not is_zip:
        return False
    try:
        with zipfile.ZipFile(upload) as archive:
            member = archive.getinfo(ZIPPED_NAME)
    except KeyError:
        raise ImportProblem(_("The zip has no conversations.json at its top.")) from None
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ImportProblem(_("The zip is damaged.")) from None
    finally:
        upload.seek(0)
    if member.file_size > _limit():
        raise unpacks_too_large(member.file_size)
    return True


def queue(owner: Any, upload: Any) -> Import:
    """Check what is cheap now (a bad file is refused in the request), keep the file, leave the rest to the worker."""
    is_zip = inspect(upload)
    record = Import(owner=owner, name=str(getattr(upload, "name", "") or "")[:255])
    record.upload.save("import.zip" if is_zip else "import.json", File(upload), save=False)
    record.save()
    from . import tasks

    tasks.run_import.enqueue(str(record.pk))
    return record


# --- Reading a file ------------------------------------------------------------------


def read_json(archive: zipfile.ZipFile | None, raw: bytes) -> bytes:
    """The JSON bytes: ``raw`` itself, or the zip's conversations.json, within the bound (a zip may lie)."""
    if archive is None:
        return raw
    try:
        with archive.open(ZIPPED_NAME) as handle:
            data = handle.read(_limit() + 1)
    except KeyError:
        raise ImportProblem(_("The zip has no conversations.json at its top.")) from None
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ImportProblem(_("The zip is damaged.")) from None
    if len(data) > _limit():
        raise unpacks_too_large(None)
    return data


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


def _is_chatgpt(item: Any) -> bool:
    return isinstance(item, dict) and "mapping" in item


def plan(data: Any, assets: dict[str, str] | None = None) -> Plan:
    """
    Which format ``data`` is, and its conversations, each checked on its
    own; ImportProblem when nothing in it is a conversation or it is past
    the bounds. ``assets``: ChatGPT's files in its zip, by id.
    """
    if isinstance(data, dict) and data.get("schema") in (documents.SCHEMA, documents.EXPORT_SCHEMA):
        return plan_ours(data)
    if isinstance(data, list) and any(_is_chatgpt(item) for item in data):
        return plan_chatgpt(data, assets or {})
    if _is_chatgpt(data):
        return plan_chatgpt([data], assets or {})
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


def _where(number: int, item: Any) -> str:
    where = _("Conversation %(number)s") % {"number": number}
    title = item.get("title") if isinstance(item, dict) else None
    if isinstance(title, str) and title:
        where = f"{where} (“{_UNSTORABLE.sub('', title[:60])}”)"
    return where


# --- Our own JSON --------------------------------------------------------------------


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


def plan_ours(data: dict[str, Any]) -> Plan:
    if data.get("version") != documents.SCHEMA_VERSION:
        raise ImportProblem(
            _("This file's schema version is %(version)s; this site reads version %(ours)s.")
            % {"version": data.get("version"), "ours": documents.SCHEMA_VERSION}
        )
    items: Any = [data] if data["schema"] == documents.SCHEMA else data.get("conversations")
    if not isinstance(items, list):
        raise ImportProblem(_("“conversations” must be a list."))
    _bounded(len(items), sum(len(c.get("messages") or []) for c in items if isinstance(c, dict)))
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
        return _UNSTORABLE.sub("", key)
    # An export from before keys: its creation time and title are as good as an id.
    return f"aitre-web:{conversation.created_at.isoformat()}:{conversation.title}"[:120]


def _plan_one(item: Any, number: int, found: Plan) -> ConversationPlan:
    where = _where(number, item)
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
        at = _Reader(f"{where}, " + _("message %(id)s") % {"id": _UNSTORABLE.sub("", key[:40])}, found, where)
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
                name=_UNSTORABLE.sub("", str(image.get("name") or ""))[:255],
                path=path if found else "",
                key=f"file:{found}" if found else "",
                width=width if isinstance(width, int) and not isinstance(width, bool) else None,
                height=height if isinstance(height, int) and not isinstance(height, bool) else None,
            )
        )
    return pictures


# --- ChatGPT's conversations.json -----------------------------------------------------


def _chatgpt_time(value: Any, default: datetime) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 32503680000:
        return datetime.fromtimestamp(value, tz=UTC)
    return default


@dataclass
class _ChatGPTReader:
    """One conversation's messages read: its text, cleaned and counted, its pictures found in the zip."""

    found: Plan
    where: str
    assets: dict[str, str]

    def picture(self, part: dict[str, Any]) -> Picture:
        pointer = str(part.get("asset_pointer") or "")
        asset = restoring.asset_id(pointer)
        path = self.assets.get(asset, "")
        width, height = part.get("width"), part.get("height")
        return Picture(
            name=(path.rsplit("/", 1)[-1] if path else asset)[:255],
            path=path,
            key=f"chatgpt:{asset}" if asset else "",
            width=width if isinstance(width, int) and not isinstance(width, bool) else None,
            height=height if isinstance(height, int) and not isinstance(height, bool) else None,
        )

    def content(self, message: dict[str, Any]) -> tuple[str, str, list[Picture]]:
        """The message's kind ("text", "code", "output" or "other"), its text and its pictures."""
        content = message.get("content") or {}
        kind = content.get("content_type")
        if kind == "code":
            language = str(content.get("language") or "")
            language = "" if language == "unknown" else re.sub(r"[^\w+#-]", "", language)[:20]
            code = self.found.clean(str(content.get("text") or ""), self.where).strip("\n")
            return "code", f"```{language}\n{code}\n```" if code else "", []
        if kind == "execution_output":
            return "output", self.found.clean(str(content.get("text") or ""), self.where).strip("\n"), []
        if kind not in ("text", "multimodal_text"):
            self.found.skipped[_("other content (%(kind)s)") % {"kind": kind or "?"}] += 1
            return "other", "", []
        texts, pictures = [], []
        for part in content.get("parts") or []:
            if isinstance(part, str):
                texts.append(self.found.clean(part, self.where))
            elif isinstance(part, dict) and part.get("content_type") == "image_asset_pointer":
                pictures.append(self.picture(part))
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(self.found.clean(part["text"], self.where))  # a spoken turn's transcript
            else:
                self.found.skipped[_("files other than pictures")] += 1
        return "text", "\n\n".join(text for text in texts if text).strip(), pictures


def plan_chatgpt(items: list[Any], assets: dict[str, str]) -> Plan:
    _bounded(len(items), sum(len(c.get("mapping") or {}) for c in items if _is_chatgpt(c)))
    found = Plan(source="chatgpt")
    for number, item in enumerate(items, start=1):
        where = _where(number, item)
        try:
            if not _is_chatgpt(item):
                raise ImportProblem(f"{where}: " + _("not a ChatGPT conversation (it has no “mapping”)."))
            mapping = item.get("mapping")
            if not isinstance(mapping, dict) or not all(isinstance(node, dict) for node in mapping.values()):
                raise ImportProblem(f"{where}: " + _("“mapping” must be an object of nodes."))
            found.conversations.append(_plan_chatgpt_one(item, mapping, _ChatGPTReader(found, where, assets)))
        except ImportProblem as problem:
            found.left_out(problem)
    found.say_cleaned()
    return found


def _plan_chatgpt_one(
    item: dict[str, Any], mapping: dict[str, dict[str, Any]], read: _ChatGPTReader
) -> ConversationPlan:
    where = read.where
    now = timezone.now()
    created = _chatgpt_time(item.get("create_time"), now)
    identity = item.get("conversation_id") or item.get("id")
    conversation = ConversationPlan(
        title=read.found.clean(str(item.get("title") or "")[:TITLE_CHARS], where),
        model="",
        created_at=created,
        updated_at=_chatgpt_time(item.get("update_time"), created),
        key=f"chatgpt:{identity}"[:120] if isinstance(identity, str) and identity else "",
        where=where,
    )
    kept: dict[str, str | None] = {}  # node id -> the kept node it hangs from (None: the root)
    by_key: dict[str, MessagePlan] = {}
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
            made = _chatgpt_message(node_id, message, kept_parent, created, read, by_key)
            if made is not None:
                conversation.messages.append(made)
                by_key[made.key] = made
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
    node_id: str,
    message: dict[str, Any],
    parent: str | None,
    default_time: datetime,
    read: _ChatGPTReader,
    kept: dict[str, MessagePlan],
) -> MessagePlan | None:
    skipped = read.found.skipped
    role = (message.get("author") or {}).get("role")
    metadata = message.get("metadata") or {}
    if role == "system":
        skipped[_("system messages")] += 1
        return None
    if role not in ("user", "assistant", "tool"):
        skipped[_("other messages (%(role)s)") % {"role": role or "?"}] += 1
        return None
    if metadata.get("is_visually_hidden_from_conversation"):
        skipped[_("hidden messages")] += 1
        return None
    kind, text, pictures = read.content(message)
    if role == "tool":
        above = kept.get(parent or "")
        if kind == "output" and text and above is not None:
            # What the code printed goes under the code, in the message that ran it.
            above.content += "\n\n" + _("Output:") + f"\n\n```\n{text}\n```"
            return None
        if not pictures:
            skipped[_("tool messages")] += 1
            return None
        # A picture a tool made (DALL·E, a chart the code drew) is the model's answer.
        role, text = Message.Role.ASSISTANT, ""
    if not text and not pictures:
        skipped[_("empty messages")] += 1
        return None
    if len(text) > MAX_MESSAGE_CHARS:
        raise ImportProblem(
            f"{read.where}: "
            + _("message %(id)s is longer than %(limit)s characters.") % {"id": node_id, "limit": MAX_MESSAGE_CHARS}
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
        pictures=pictures,
    )


# --- Writing ---------------------------------------------------------------------------


def imported_before(owner: Any, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), KEY_SLICE):
        found.update(
            Conversation.objects.filter(owner=owner, import_key__in=keys[start : start + KEY_SLICE]).values_list(
                "import_key", flat=True
            )
        )
    return found


def drop_duplicates(owner: Any, found: Plan) -> None:
    """Conversations imported before (or twice in this file) are not written again; counted."""
    before = imported_before(owner, [p.key for p in found.conversations if p.key])
    fresh, seen = [], set()
    for conversation in found.conversations:
        if conversation.key and (conversation.key in before or conversation.key in seen):
            found.skipped[_("conversations imported before")] += 1
            continue
        seen.add(conversation.key)
        fresh.append(conversation)
    found.conversations = fresh


def restore_pictures(owner: Any, archive: zipfile.ZipFile | None, found: Plan, restored: restoring.Restored) -> None:
    """Each planned message's pictures kept from the zip (once each); what could not be, said in ``problems``."""
    source_of: dict[str, str] = {
        Message.Role.USER: StoredFile.Source.UPLOAD,
        Message.Role.ASSISTANT: StoredFile.Source.CHAT,
    }
    for conversation in found.conversations:
        for message in conversation.messages:
            for picture in message.pictures:
                if picture.path in restored.by_path or picture.path in restored.problems:
                    continue
                here = _already_here(owner, picture)
                if here is not None:
                    restored.by_path[picture.path] = here
                    continue
                if archive is None:
                    restored.missing[picture.key] = _("it is in the export's zip: import the zip to bring it in")
                    continue
                if not picture.path:
                    restored.missing[picture.key] = _("it is not in the zip")
                    continue
                try:
                    kept, new = restoring.keep(
                        owner,
                        archive,
                        picture.path,
                        key=picture.key,
                        name=picture.name,
                        source=source_of[message.role],
                        model=message.model,
                        created_at=message.created_at,
                    )
                except restoring.Unreadable as problem:
                    restored.problems[picture.path] = str(problem)
                    continue
                restored.by_path[picture.path] = kept
                if new:
                    restored.made.append(kept)


def _already_here(owner: Any, picture: Picture) -> StoredFile | None:
    """The picture as this account keeps it already: imported from the same file before, or never gone (our ids)."""
    found = Q(import_key=picture.key) if picture.key else Q(pk__in=[])
    if (original := restoring.file_id(picture.path)) is not None:
        found |= Q(pk=original)
    return StoredFile.objects.filter(found, owner=owner).first()


def _with_pictures(message: MessagePlan, restored: restoring.Restored) -> tuple[str, list[dict[str, Any]]]:
    """The message's text and parts once its pictures are kept: parts for a question, links in a reply's text."""
    content, parts, missing = message.content, [], []
    if restored.by_path:
        by_old_id = {str(restoring.file_id(path)): kept for path, kept in restored.by_path.items()}
        content = _FILE_LINK.sub(
            lambda link: by_old_id[link.group(1)].get_absolute_url() if link.group(1) in by_old_id else link.group(0),
            content,
        )
    links = []
    for picture in message.pictures:
        kept = restored.by_path.get(picture.path) if picture.path else None
        if kept is None:
            reason = (
                restored.problems.get(picture.path) or restored.missing.get(picture.key) or _("it is not in the file")
            )
            missing.append(
                _("[A picture could not be imported: %(name)s: %(reason)s]")
                % {"name": picture.name or _("picture"), "reason": reason}
            )
        elif message.role == Message.Role.USER:
            parts.append({"file": str(kept.pk), "name": kept.name, "width": kept.width, "height": kept.height})
        else:
            links.append(f"![{kept.name}]({kept.get_absolute_url()})")
    pieces = [*links, content, *(f"*{line}*" for line in missing)]
    return "\n\n".join(piece for piece in pieces if piece), parts


def save(owner: Any, plans: list[ConversationPlan], restored: restoring.Restored | None = None) -> Report:
    """Every planned conversation, in one transaction: all of them or none; pictures pointed at their kept files."""
    restored = restored or restoring.Restored()
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
                    import_key=p.key,
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
                content, parts = _with_pictures(m, restored)
                rows.append(
                    Message(
                        conversation=conversations[index],
                        parent=made[(index, m.parent)] if m.parent else None,
                        role=m.role,
                        content=content,
                        parts=parts,
                        rendered=render_markdown(content) if m.role == Message.Role.ASSISTANT else "",
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
        _link_chat_pictures(conversations, made)
    report.conversations = len(conversations)
    report.messages = len(made)
    report.written = conversations
    return report


def _link_chat_pictures(conversations: list[Conversation], made: dict[tuple[int, str], Message]) -> None:
    """A picture a reply or question carries belongs to its conversation in the library (files.sources)."""
    for (index, _key), message in made.items():
        ids = [part["file"] for part in message.parts or []] + _FILE_LINK.findall(message.content)
        if ids:
            StoredFile.objects.filter(pk__in=ids, origin_id__isnull=True, source=StoredFile.Source.CHAT).update(
                origin_id=conversations[index].pk
            )


# --- In the worker ------------------------------------------------------------------------


def run(record: Import) -> None:
    """
    The worker's part: the kept file read, planned, its files restored and
    its conversations written, all of them or none; then search is told. A
    cancel is heard between steps, and at the end, in the transaction that
    would write: after it, nothing of the import stays.
    """
    if not record.claim():
        return
    restored = restoring.Restored()

    def still_wanted() -> bool:
        return Import.objects.filter(pk=record.pk, status=Import.Status.IMPORTING).exists()

    try:
        with record.beating(), record.upload.open("rb") as handle:
            archive = zipfile.ZipFile(handle) if (record.upload.name or "").endswith(".zip") else None
            try:
                raw = read_json(archive, b"" if archive else handle.read())
                found = plan(parse(raw), restoring.chatgpt_assets(archive))
                del raw
                found.check_something_is_left()
                drop_duplicates(record.owner, found)
                ours = archive if found.source == "aitre-web" else None
                if ours is not None:
                    restoring.our_files(record.owner, ours, restored)
                if not still_wanted():
                    raise Cancelled
                restore_pictures(record.owner, archive, found, restored)
                if not still_wanted():
                    raise Cancelled
                for path, problem in restored.problems.items():
                    found.notes.append(
                        _("A file was not imported: %(name)s: %(reason)s") % {"name": path, "reason": problem}
                    )
                with transaction.atomic():
                    report = save(record.owner, found.conversations, restored)
                    if ours is not None:
                        restoring.our_transcripts(record.owner, ours, restored)
                        restoring.our_settings(record.owner, ours)
                    ended = Import.objects.filter(pk=record.pk, status=Import.Status.IMPORTING).update(
                        status=Import.Status.DONE,
                        source=found.source,
                        conversations=report.conversations,
                        messages=report.messages,
                        files=len(restored.made),
                        skipped=dict(found.skipped),
                        notes=found.notes[:200],
                        finished_at=timezone.now(),
                    )
                    if not ended:
                        raise Cancelled
            finally:
                if archive is not None:
                    archive.close()
    except Cancelled:
        restored.undo()
        Import.objects.filter(pk=record.pk).update(**record.forget_files())
        return
    except ImportProblem as problem:
        restored.undo()
        record.fail(str(problem))
        return
    except Exception as error:
        restored.undo()
        record.fail(str(error) or type(error).__name__)
        raise
    Import.objects.filter(pk=record.pk).update(**record.forget_files())
    conversations_imported.send(sender=Conversation, owner_id=record.owner_id, conversations=report.written)


def settle_stale() -> int:
    """Imports whose worker died mid-way (their transaction rolled back): failed, their file gone."""
    return Import.settle_stale(_("The import was interrupted (its worker stopped); nothing was written."))
