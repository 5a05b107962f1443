"""
The message tree, walked in one place.

Messages form a tree: a reply's parent is the question it answers, and
siblings are versions (a regenerated reply, an edited question). The
conversation remembers the leaf on show, so the thread is the path from
that leaf back to the root. ``Tree`` is read in one query of ids and
parents, whatever the conversation's length; every walk (the thread on
show, a reply's history, the branch a version leads to, one message's
versions) goes through it.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .models import Conversation, Message
from .settling import settle_stale


class Tree:
    """The shape of one conversation's messages: ids and parents, oldest first."""

    def __init__(self, rows: Iterable[tuple[int, int | None]]) -> None:
        self.parent_of: dict[int, int | None] = {}
        self.children: dict[int | None, list[int]] = defaultdict(list)
        for pk, parent_id in sorted(rows):
            self.parent_of[pk] = parent_id
            self.children[parent_id].append(pk)

    @classmethod
    def of(cls, conversation_id: int) -> "Tree":
        return cls(Message.objects.filter(conversation_id=conversation_id).values_list("pk", "parent_id"))

    def path_to(self, node: int | None) -> list[int]:
        """From the root down to ``node``, inclusive; empty for None or a message not in the tree."""
        path = []
        while node is not None and node in self.parent_of:
            path.append(node)
            node = self.parent_of[node]
        return path[::-1]

    def versions(self, pk: int) -> list[int]:
        """``pk`` and its siblings, oldest first."""
        return self.children[self.parent_of[pk]]

    def newest_leaf_under(self, pk: int) -> int:
        """Down from ``pk`` along the newest child each time: where showing ``pk``'s branch ends."""
        while self.children.get(pk):
            pk = self.children[pk][-1]
        return pk


@dataclass
class ThreadItem:
    message: Message
    version: int  # 1-based position among its siblings
    versions: int
    previous_version_id: int | None
    next_version_id: int | None

    @classmethod
    def among(cls, message: Message, versions: list[int]) -> "ThreadItem":
        index = versions.index(message.pk)
        return cls(
            message=message,
            version=index + 1,
            versions=len(versions),
            previous_version_id=versions[index - 1] if index > 0 else None,
            next_version_id=versions[index + 1] if index + 1 < len(versions) else None,
        )

    @classmethod
    def alone(cls, message: Message) -> "ThreadItem":
        """A message that has no other version (a new question, or its new reply)."""
        return cls(message, 1, 1, None, None)


@dataclass
class Thread:
    items: list[ThreadItem]
    # Messages of the path before the first one shown.
    earlier: int = 0

    @property
    def messages(self) -> list[Message]:
        return [item.message for item in self.items]

    def __iter__(self) -> Iterator[ThreadItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def current(conversation: Conversation, window: int | None = None) -> Thread:
    """
    The version path on show, each message with its version neighbours: the
    last ``window`` messages of it, or all. Two queries whatever the length
    (the tree's shape, then the messages shown). Replies left live by a
    process that died are settled first, where someone is about to look.
    """
    rows = list(
        Message.objects.filter(conversation=conversation).values_list("pk", "parent_id", "status", "updated_at")
    )
    stale = [pk for pk, _, status, updated_at in rows if Message.is_stale_row(status, updated_at)]
    if stale:
        settle_stale(Message.objects.filter(pk__in=stale))
    tree = Tree((pk, parent_id) for pk, parent_id, _, _ in rows)
    path = tree.path_to(conversation.current_leaf_id)
    shown = path[-window:] if window else path
    loaded = Message.objects.in_bulk(shown)
    return Thread(
        [ThreadItem.among(loaded[pk], tree.versions(pk)) for pk in shown],
        earlier=len(path) - len(shown),
    )


def finished_on_show(conversation: Conversation) -> list[Message]:
    """
    The versions on show, root to leaf, without a reply still being written:
    what is exported or shared of a conversation. Two queries.
    """
    path = Tree.of(conversation.pk).path_to(conversation.current_leaf_id)
    loaded = Message.objects.in_bulk(path)
    return [loaded[pk] for pk in path if loaded[pk].status not in Message.LIVE_STATUSES]


def item_for(message: Message) -> ThreadItem:
    """One message with its version neighbours, for rendering it alone: one query of its siblings."""
    siblings = Message.objects.filter(conversation_id=message.conversation_id, parent_id=message.parent_id)
    return ThreadItem.among(message, list(siblings.order_by("pk").values_list("pk", flat=True)))


def history(message: Message) -> list[Message]:
    """
    The messages ``message`` follows, oldest first: its version path. One
    query, of what a prompt is made of (a long conversation's rendered
    replies would weigh more than the rest together).
    """
    fields = ("pk", "parent_id", "role", "content", "parts")
    loaded = {m.pk: m for m in Message.objects.filter(conversation_id=message.conversation_id).only(*fields)}
    tree = Tree((pk, m.parent_id) for pk, m in loaded.items())
    return [loaded[pk] for pk in tree.path_to(message.parent_id)]


def leaf_of_branch(message: Message) -> int:
    """The leaf to show when ``message`` (a version) is picked."""
    return Tree.of(message.conversation_id).newest_leaf_under(message.pk)
