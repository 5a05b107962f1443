"""
Importing conversations: this site's export (its zip, with the pictures,
recordings, transcripts and settings it holds, or a conversation's JSON) and
ChatGPT's (its zip, pictures included, or the conversations.json inside).

The request does only what is cheap (``queue``): the size, and for a zip,
that it opens and holds a conversations.json within the bound. It keeps the
file and answers; the worker (its ``imports`` queue, so no other job waits
behind a long import) does the rest in ``run``: reads and plans the JSON,
restores the files, writes whole conversations a few thousand messages a
transaction (all or nothing for the person: anything that stops it deletes
what it wrote), then has search index what came in at once
(``chat.signals.conversations_imported``).

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
counts it. The formats are read by transfer.ours and transfer.chatgpt into
the plans of transfer.plans; this module writes them.
"""

import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat.models import Conversation, Message
from chat.rendering import render_markdown
from chat.signals import conversations_imported
from files.models import StoredFile

from . import chatgpt, documents, ours, restoring
from .models import Import
from .plans import ConversationPlan, ImportProblem, MessagePlan, Picture, Plan, storable

ZIPPED_NAME = "conversations.json"
# A link to a kept file in a message's text (a picture reply): re-pointed to the restored copy.
_FILE_LINK = re.compile(r"/files/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
# Keys lists are queried in slices (SQLite's bound on a statement's variables).
KEY_SLICE = 500
# Messages written a transaction (whole conversations): SQLite's write lock is held this long at most.
CHUNK_MESSAGES = 2000


class Cancelled(Exception):
    """The person cancelled the import while it ran: everything it did is undone."""


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
    record = Import(
        owner=owner,
        name=storable(str(getattr(upload, "name", "") or ""))[:255],
        language=translation.get_language() or "",
    )
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


def plan(data: Any, assets: dict[str, str] | None = None) -> Plan:
    """
    Which format ``data`` is, and its conversations, each checked on its
    own; ImportProblem when nothing in it is a conversation or it is past
    the bounds. ``assets``: ChatGPT's files in its zip, by id.
    """
    if isinstance(data, dict) and data.get("schema") in (documents.SCHEMA, documents.EXPORT_SCHEMA):
        return ours.plan(data)
    if isinstance(data, list) and any(chatgpt.is_conversation(item) for item in data):
        return chatgpt.plan(data, assets or {})
    if chatgpt.is_conversation(data):
        return chatgpt.plan([data], assets or {})
    raise ImportProblem(
        _("This is neither an export of this site (a JSON file with a “schema”) nor ChatGPT's conversations.json.")
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


def _with_pictures(
    message: MessagePlan, restored: restoring.Restored, originals: dict[str, StoredFile]
) -> tuple[str, list[dict[str, Any]]]:
    """
    The message's text and parts once its pictures are kept: parts for a
    question, links in a reply's text (``originals``: the kept files by the
    id the export knew them by, re-pointed in the text).
    """
    content, parts, missing = message.content, [], []
    if originals:
        content = _FILE_LINK.sub(
            lambda link: originals[link.group(1)].get_absolute_url() if link.group(1) in originals else link.group(0),
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
            # The name comes from the file: nothing of it may close the Markdown around it.
            alt = re.sub(r"[\[\]()<>`\\]", "", kept.name)[:100]
            links.append(f"![{alt}]({kept.get_absolute_url()})")
    # A question is shown as typed, a reply as Markdown: the line is in italics only where that shows as italics.
    said = missing if message.role == Message.Role.USER else [f"*{line}*" for line in missing]
    pieces = [*links, content, *said]
    return "\n\n".join(piece for piece in pieces if piece), parts


def save(
    owner: Any,
    plans: list[ConversationPlan],
    restored: restoring.Restored | None = None,
    *,
    between: Callable[[int], None] | None = None,
) -> Report:
    """
    Every planned conversation, all of them or none, pictures pointed at
    their kept files: written a few thousand messages a transaction
    (``CHUNK_MESSAGES``, whole conversations), because on SQLite a
    transaction holds the one write lock, and one for a 40,000-message
    import held every other write (a chat's reply, another user's export)
    for ten seconds. ``between(written)`` is called after each (the
    progress, and where a cancel is heard, by raising). Anything raised
    deletes what was written before it.
    """
    restored = restored or restoring.Restored()
    written: list[Conversation] = []
    messages = 0
    try:
        for chunk in _chunks(plans):
            conversations, count = _write(owner, chunk, restored)
            written += conversations
            messages += count
            if between is not None:
                between(len(written))
    except BaseException:
        Conversation.objects.filter(pk__in=[c.pk for c in written]).delete()
        raise
    return Report(conversations=len(written), messages=messages, written=written)


def _chunks(plans: list[ConversationPlan]) -> Iterator[list[ConversationPlan]]:
    chunk: list[ConversationPlan] = []
    size = 0
    for conversation in plans:
        chunk.append(conversation)
        size += len(conversation.messages)
        if size >= CHUNK_MESSAGES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _write(owner: Any, plans: list[ConversationPlan], restored: restoring.Restored) -> tuple[list[Conversation], int]:
    """One chunk in one transaction; its texts made (and replies rendered) first, outside it."""
    made_text: dict[tuple[int, str], tuple[str, list[dict[str, Any]]]] = {}
    rendered: dict[tuple[int, str], str] = {}
    originals = restored.by_original_id()
    for index, p in enumerate(plans):
        for m in p.messages:
            made_text[(index, m.key)] = _with_pictures(m, restored, originals)
            if m.role == Message.Role.ASSISTANT:
                rendered[(index, m.key)] = render_markdown(made_text[(index, m.key)][0])
    # Parents before children: one insert for each depth, across all conversations.
    levels: dict[int, list[tuple[int, MessagePlan]]] = {}
    for index, p in enumerate(plans):
        depth_of: dict[str, int] = {}
        for m in p.messages:
            depth_of[m.key] = depth_of[m.parent] + 1 if m.parent else 0
            levels.setdefault(depth_of[m.key], []).append((index, m))
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
        made: dict[tuple[int, str], Message] = {}
        for depth in sorted(levels):
            rows = []
            for index, m in levels[depth]:
                content, parts = made_text[(index, m.key)]
                rows.append(
                    Message(
                        conversation=conversations[index],
                        parent=made[(index, m.parent)] if m.parent else None,
                        role=m.role,
                        content=content,
                        parts=parts,
                        rendered=rendered.get((index, m.key), ""),
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
    return conversations, len(made)


def _link_chat_pictures(conversations: list[Conversation], made: dict[tuple[int, str], Message]) -> None:
    """A picture a reply or question carries belongs to its conversation in the library (files.sources)."""
    by_conversation: dict[int, list[str]] = {}
    for (index, _key), message in made.items():
        ids = [part["file"] for part in message.parts or []] + _FILE_LINK.findall(message.content)
        by_conversation.setdefault(conversations[index].pk, []).extend(ids)
    for conversation_pk, ids in by_conversation.items():
        if ids:
            StoredFile.objects.filter(pk__in=ids, origin_id__isnull=True, source=StoredFile.Source.CHAT).update(
                origin_id=conversation_pk
            )


# --- In the worker ------------------------------------------------------------------------


def run(record: Import) -> None:
    """
    The worker's part: the kept file read, planned, its files restored and
    its conversations written, all of them or none; then search is told. A
    cancel is heard between steps and between chunks, and at the end, in the
    transaction that ends it: after it, nothing of the import stays.
    """
    if not record.claim():
        return
    with translation.override(record.language or None):
        _run(record)


def _run(record: Import) -> None:
    restored = restoring.Restored()
    # What this import wrote: deleted again by anything that stops it from ending as done.
    written: list[Conversation] = []

    def still_wanted() -> None:
        if not Import.objects.filter(pk=record.pk, status=Import.Status.IMPORTING).exists():
            raise Cancelled

    def progressed(count: int) -> None:
        """How far it has got, for the page; and a cancel, heard between two chunks."""
        if not Import.objects.filter(pk=record.pk, status=Import.Status.IMPORTING).update(conversations=count):
            raise Cancelled

    def undo() -> None:
        Conversation.objects.filter(pk__in=[c.pk for c in written]).delete()
        restored.undo()

    try:
        with record.beating(), record.upload.open("rb") as handle:
            archive = zipfile.ZipFile(handle) if (record.upload.name or "").endswith(".zip") else None
            try:
                found = plan(
                    parse(read_json(archive, b"" if archive else handle.read())), restoring.chatgpt_assets(archive)
                )
                found.check_something_is_left()
                drop_duplicates(record.owner, found)
                ours = archive if found.source == "aitre-web" else None
                if ours is not None:
                    restoring.our_files(record.owner, ours, restored)
                still_wanted()
                restore_pictures(record.owner, archive, found, restored)
                still_wanted()
                for path, problem in restored.problems.items():
                    found.notes.append(
                        _("A file was not imported: %(name)s: %(reason)s") % {"name": path, "reason": problem}
                    )
                report = save(record.owner, found.conversations, restored, between=progressed)
                written = report.written
                with transaction.atomic():
                    if ours is not None:
                        restoring.our_transcripts(record.owner, ours, restored)
                        restoring.our_settings(record.owner, ours)
                    # Done in the transaction that writes the transcripts: a cancel after it finds it ended.
                    if not Import.objects.filter(pk=record.pk, status=Import.Status.IMPORTING).update(
                        status=Import.Status.DONE,
                        source=found.source,
                        conversations=report.conversations,
                        messages=report.messages,
                        files=len(restored.made),
                        skipped={storable(reason): count for reason, count in found.skipped.items()},
                        notes=[storable(note) for note in found.notes[:200]],
                        finished_at=timezone.now(),
                    ):
                        raise Cancelled
            finally:
                if archive is not None:
                    archive.close()
    except Cancelled:
        undo()
        Import.objects.filter(pk=record.pk).update(**record.forget_files())
        return
    except ImportProblem as problem:
        undo()
        record.fail(storable(str(problem)))
        return
    except Exception as error:
        undo()
        record.fail(storable(str(error)) or type(error).__name__)
        raise
    Import.objects.filter(pk=record.pk).update(**record.forget_files())
    conversations_imported.send(sender=Conversation, owner_id=record.owner_id, conversations=report.written)
