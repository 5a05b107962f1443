"""
ChatGPT's export read into a plan: a list of conversations, each a
``mapping`` of nodes (``id``, ``message``, ``parent``, ``children``) with a
``current_node``. Branches (a regenerated reply, an edited question) are
children of one node, and become versions. Code the model ran is kept as a
code block with its output; pictures (``image_asset_pointer`` parts) are
found among the zip's files (``assets``). System, hidden and other tool
nodes, and nodes with no text, are skipped, their children joined to the
nearest kept ancestor; what was skipped is counted by reason. A
conversation that cannot be read is left out and named.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from chat.models import Conversation, Message

from . import restoring
from .plans import (
    MAX_MESSAGE_CHARS,
    TITLE_CHARS,
    ConversationPlan,
    ImportProblem,
    MessagePlan,
    Picture,
    Plan,
    bounded,
    conversation_label,
    pixels,
)


def is_conversation(item: Any) -> bool:
    return isinstance(item, dict) and "mapping" in item


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
            width=pixels(width),
            height=pixels(height),
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


def plan(items: list[Any], assets: dict[str, str]) -> Plan:
    bounded(len(items), sum(len(c.get("mapping") or {}) for c in items if is_conversation(c)))
    found = Plan(source="chatgpt")
    for number, item in enumerate(items, start=1):
        where = conversation_label(number, item)
        try:
            if not is_conversation(item):
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
