"""
Keeping the passages: written when chat says a message is final
(``chat.signals.message_written``), on commit; anything a signal missed
(messages from before search existed, a process that died at the wrong
moment) is caught up by the worker's sweep. Each owner's new passages are
then embedded in the background (``search.embedding``).
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chat.models import Conversation, Message

from .embedding import queue_embedding, vector_space
from .models import Passage

logger = logging.getLogger(__name__)

INDEXED_STATUSES = (Message.Status.COMPLETE, Message.Status.STOPPED)
SWEEP_BATCH = 2000
SWEEP_WINDOW = timedelta(days=1)
SWEEP_REQUEUE_SECONDS = 300.0
# When this process's sweep last queued each owner's embedding.
_swept: dict[int, float] = {}


def _passage_for(message: Message, owner_id: int) -> Passage:
    passage = Passage(
        owner_id=owner_id,
        conversation_id=message.conversation_id,
        message_id=message.pk,
        role=message.role,
        created_at=message.created_at,
    )
    passage.set_text(message.content)
    return passage


def capture(messages: list[Message], owner_id: int) -> int:
    """Passages for those of ``messages`` that are final and have words; a message's second capture changes nothing."""
    fresh = [_passage_for(m, owner_id) for m in messages if m.status in INDEXED_STATUSES and m.content]
    if not fresh:
        return 0
    return len(Passage.objects.bulk_create(fresh, ignore_conflicts=True))


def capture_title(conversation: Conversation) -> None:
    """The title's passage follows the title: written, rewritten (its vector dropped) or removed."""
    title = conversation.title.strip()
    current = Passage.objects.filter(conversation=conversation, kind=Passage.Kind.TITLE).first()
    if not title:
        if current is not None:
            current.delete()
        return
    if current is None:
        new = Passage(owner_id=conversation.owner_id, conversation=conversation, kind=Passage.Kind.TITLE)
        new.set_text(title)
        # A new chat's first reply and the worker's sweep may both write it at once: one row,
        # and neither fails on the constraint (it answered 500 to the chat that was created).
        Passage.objects.bulk_create([new], ignore_conflicts=True)
        current = Passage.objects.filter(conversation=conversation, kind=Passage.Kind.TITLE).first()
    if current is None or current.text == title:
        return
    current.set_text(title)
    current.vector, current.vector_model, current.vector_dimensions, current.embedded_at = None, "", None, None
    current.save()


def written(message: Message) -> None:
    """A message became final (chat.signals.message_written): its passage, its title's, and the embedding job."""
    message_pk = message.pk

    def on_commit() -> None:
        found = Message.objects.filter(pk=message_pk).select_related("conversation").first()
        if found is None:
            return
        owner_id = found.conversation.owner_id
        capture([found], owner_id)
        capture_title(found.conversation)
        queue_embedding(owner_id)

    transaction.on_commit(on_commit)


IMPORT_BATCH = 2000


def imported(owner_id: int, conversations: list[Conversation]) -> int:
    """
    An import's conversations indexed at once (by words now, by meaning as
    soon as the worker embeds them), not on a sweep minutes later.
    """
    captured = 0
    ids = [c.pk for c in conversations]
    messages = Message.objects.filter(conversation_id__in=ids, status__in=INDEXED_STATUSES).order_by("pk")
    last = 0
    while batch := list(messages.filter(pk__gt=last)[:IMPORT_BATCH]):
        captured += capture(batch, owner_id)
        last = batch[-1].pk
    for conversation in conversations:
        capture_title(conversation)
    if captured:
        queue_embedding(owner_id)
    return captured


def sweep() -> int:
    """
    For the worker: passages for final messages that have none (bounded a
    round), and an embedding job for each owner with passages waiting.
    """
    # Recent messages only, every round: older ones are `manage.py reindex_search`'s, once.
    captured = sweep_passages(since=SWEEP_WINDOW)
    space = vector_space()
    if space and settings.SEARCH_EMBED:
        now = timezone.now()
        waiting = (
            Passage.objects.waiting_in(space)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .values_list("owner_id", flat=True)
            .distinct()
        )
        moment = time.monotonic()
        for owner_id in list(waiting[:500]):
            # At most once every few minutes an owner: an API that keeps failing is not asked every round.
            if moment - _swept.get(owner_id, -SWEEP_REQUEUE_SECONDS) >= SWEEP_REQUEUE_SECONDS:
                _swept[owner_id] = moment
                queue_embedding(owner_id)
    return captured


def sweep_passages(since: timedelta | None = None) -> int:
    """
    Passages for up to SWEEP_BATCH final messages that have none (written
    within ``since``, else any); how many were added.
    """
    messages = Message.objects.all()
    if since is not None:
        messages = messages.filter(updated_at__gte=timezone.now() - since)
    missing = (
        messages.filter(status__in=INDEXED_STATUSES)
        .exclude(content="")
        .filter(~Q(pk__in=Passage.objects.filter(message__isnull=False).values("message_id")))
        .select_related("conversation")
        .order_by("pk")[:SWEEP_BATCH]
    )
    captured = 0
    by_owner: dict[int, list[Message]] = {}
    for message in missing:
        by_owner.setdefault(message.conversation.owner_id, []).append(message)
    for owner_id, owned in by_owner.items():
        captured += capture(owned, owner_id)
        for conversation in {m.conversation_id: m.conversation for m in owned}.values():
            capture_title(conversation)
    if captured:
        logger.info("Search: %d passages caught up", captured)
    return captured
