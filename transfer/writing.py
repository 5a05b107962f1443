"""
Writing what an import planned: conversations imported before left out,
pictures restored as the importer's files, and whole conversations written
a few thousand messages a transaction, all of them or none. What is
imported is history: messages keep their models, times, tokens and
versions, but no usage record is written, so nothing is billed and no quota
counts it.
"""

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from chat.models import Conversation, Message
from chat.rendering import render_markdown
from files.models import StoredFile

from . import restoring
from .plans import ConversationPlan, MessagePlan, Picture, Plan

# A link to a kept file in a message's text (a picture reply): re-pointed to the restored copy.
_FILE_LINK = re.compile(r"/files/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
# Keys lists are queried in slices (SQLite's bound on a statement's variables).
KEY_SLICE = 500
# Messages written a transaction (whole conversations): SQLite's write lock is held this long at most.
CHUNK_MESSAGES = 2000


@dataclass
class Report:
    """What ``save`` wrote."""

    conversations: int = 0
    messages: int = 0
    written: list[Conversation] = field(default_factory=list)


def imported_before(owner: User, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), KEY_SLICE):
        found.update(
            Conversation.objects.filter(owner=owner, import_key__in=keys[start : start + KEY_SLICE]).values_list(
                "import_key", flat=True
            )
        )
    return found


def drop_duplicates(owner: User, found: Plan) -> None:
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


def restore_pictures(owner: User, archive: zipfile.ZipFile | None, found: Plan, restored: restoring.Restored) -> None:
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


def _already_here(owner: User, picture: Picture) -> StoredFile | None:
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
    owner: User,
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


def _write(owner: User, plans: list[ConversationPlan], restored: restoring.Restored) -> tuple[list[Conversation], int]:
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
