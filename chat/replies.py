"""
Generating a reply: the work behind Send, Regenerate and Edit.

A reply does not depend on the browser's connection. Sending records the
user's message and an assistant message in ``pending``; the generation then
runs on its own (a background thread, a greenlet under gevent), reads the
upstream stream to its end, and writes the reply as it grows: bounded by
time and size, never once per token, and once at the end with its usage.
Event streams to browsers only *follow* a reply (see ``chat.streaming``), so
a closed tab changes nothing, and a reload re-attaches. These are the
commands; ``chat.generation`` is the engine that writes a reply.
"""

import logging
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from aitre import catalog
from files import store
from files.images import NormalisedImage
from files.models import StoredFile
from jobs import background
from lib.refusals import Refusal
from usage import metering

from . import attachments, threads
from .generation import Generation
from .live import live_reply
from .models import Conversation, Message
from .payload import check_fits
from .settling import settle_stale
from .signals import message_written

logger = logging.getLogger(__name__)


# --- Starting a reply ---------------------------------------------------------


class ReplyInProgress(Refusal):
    """The conversation already has a reply being written."""

    http_status = 409

    @property
    def message(self) -> str:
        return _("Wait for the current reply to finish, or stop it.")


class NotContinuable(Refusal):
    """Only a finished reply cut at the length limit, with nothing after it, can be continued."""

    http_status = 409

    @property
    def message(self) -> str:
        return _("Only the last reply, cut at the length limit, can be continued.")


class AlreadySent(Exception):
    """This submit was recorded before (a replay, a retry, a double click): ``reply`` is what it started."""

    def __init__(self, reply: Message) -> None:
        super().__init__(reply.pk)
        self.reply = reply


def _check_replay(messages: Any, client_id: str) -> None:
    if not client_id:
        return
    question = messages.filter(client_id=client_id).first()
    reply = question and question.children.filter(role=Message.Role.ASSISTANT).order_by("pk").first()
    if reply:
        raise AlreadySent(reply)


def _new_reply(conversation: Conversation, parent: Message) -> Message:
    reply = Message.objects.create(
        conversation=conversation,
        parent=parent,
        role=Message.Role.ASSISTANT,
        status=Message.Status.PENDING,
        model=conversation.model,
    )
    fields: dict[str, Any] = {"current_leaf": reply}
    if not conversation.title and parent.content:
        fields["title"] = conversation.title_from(parent.content)
    conversation.touch(**fields)
    if parent.role == Message.Role.USER:
        message_written.send(sender=Message, message=parent)
    return reply


def _ensure_idle(conversation: Conversation, client_id: str = "") -> None:
    """
    Inside the caller's transaction: lock the conversation, so two sends at
    once (a double click, two tabs) cannot both start a reply, and read its
    current leaf afresh. A submit seen before raises AlreadySent. Then the
    metering seam applies the send rate and the owner's quota (raising
    usage.metering.Refused), so a refused call leaves nothing behind.
    """
    locked = Conversation.objects.select_for_update().only("current_leaf_id").get(pk=conversation.pk)
    conversation.current_leaf_id = locked.current_leaf_id
    _check_replay(Message.objects.filter(conversation=conversation), client_id)
    live = list(Message.objects.filter(conversation=conversation).live().only("status", "updated_at"))
    if any(not message.is_stale for message in live):
        raise ReplyInProgress
    if live:
        settle_stale(Message.objects.filter(pk__in=[message.pk for message in live]))
    metering.admit(conversation.owner_id)


Images = Sequence[tuple[str, NormalisedImage]]


def _check_question(model: str, system_prompt: str, text: str, parts: list[dict[str, Any]]) -> None:
    """Before anything is stored: the model takes what is asked (ImagesNotAccepted) and it fits (TooLong)."""
    setting = catalog.setting_for(model)
    attachments.check_model_takes(setting, parts)
    content: Any = [{"type": "text", "text": text}, *parts] if parts else text
    check_fits(model, setting, system_prompt, content)


def _keep_images(conversation: Conversation, images: Images) -> list[StoredFile]:
    return [
        store.keep_image(conversation.owner_id, image, name, StoredFile.Source.UPLOAD, origin_id=conversation.pk)
        for name, image in images
    ]


def start(
    owner: User, model: str, text: str, client_id: str = "", images: Images = (), attached: Sequence[StoredFile] = ()
) -> Message:
    """A new conversation with its first message and pending reply; nothing is kept if it is refused."""
    _check_question(model, "", text, _parts(images, attached))
    with transaction.atomic():
        if client_id:
            # One new chat per submit, even for two arriving at once.
            list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk"))
            _check_replay(Message.objects.filter(conversation__owner=owner, parent__isnull=True), client_id)
        conversation = Conversation.objects.create(owner=owner, model=model)
        return send(conversation, text, client_id, images, attached)


def _parts(images: Images, attached: Sequence[StoredFile]) -> list[dict[str, Any]]:
    return [*attachments.pending_parts(images), *(attachments.part_for(stored) for stored in attached)]


def send(
    conversation: Conversation,
    text: str,
    client_id: str = "",
    images: Images = (),
    attached: Sequence[StoredFile] = (),
) -> Message:
    """
    The user's new message at the end of the current path, with its images
    (new uploads, and ``attached`` ones already kept), and its pending reply.
    """
    _check_question(conversation.model, conversation.system_prompt, text, _parts(images, attached))
    kept: list[StoredFile] = []
    try:
        with transaction.atomic():
            _ensure_idle(conversation, client_id)
            # Stored once the send is admitted; rows roll back with a failure, the bytes are removed below.
            kept = _keep_images(conversation, images)
            question = Message.objects.create(
                conversation=conversation,
                parent_id=conversation.current_leaf_id,
                role=Message.Role.USER,
                content=text,
                parts=[attachments.part_for(stored) for stored in [*kept, *attached]],
                client_id=client_id,
            )
            return _new_reply(conversation, question)
    except BaseException:
        store.discard(kept)
        raise


def regenerate(reply: Message) -> Message:
    """Another version of a reply, beside the old one."""
    conversation = reply.conversation
    question = reply.parent
    if question is not None:
        # The model may have changed since: the question must suit the one asked now.
        _check_question(conversation.model, conversation.system_prompt, question.content, question.parts)
    with transaction.atomic():
        _ensure_idle(conversation)
        assert question is not None
        return _new_reply(conversation, question)


def continue_reply(reply: Message) -> Message:
    """
    Ask for more of a reply cut at the length limit: the same message goes
    back to pending with its text, and the generation appends to it (a
    pending reply that has text is a continuation, see chat.generation).
    """
    conversation = reply.conversation
    with transaction.atomic():
        _ensure_idle(conversation)
        current = Message.objects.select_for_update().get(pk=reply.pk)
        if not current.can_continue or current.children.exists():
            raise NotContinuable
        current.reopen()
        conversation.touch(current_leaf=current)
        return current


def edit(question: Message, text: str, client_id: str = "") -> Message:
    """A new version of a user's message, beside the old one, and a reply to it."""
    conversation = question.conversation
    _check_question(conversation.model, conversation.system_prompt, text, question.parts)
    with transaction.atomic():
        _ensure_idle(conversation, client_id)
        edited = Message.objects.create(
            conversation=conversation,
            parent_id=question.parent_id,
            role=Message.Role.USER,
            content=text,
            parts=question.parts,
            client_id=client_id,
        )
        return _new_reply(conversation, edited)


def select_version(message: Message) -> None:
    """Show ``message``'s branch: follow the newest child down to a leaf."""
    conversation = message.conversation
    conversation.current_leaf_id = threads.leaf_of_branch(message)
    Conversation.objects.filter(pk=conversation.pk).update(current_leaf_id=conversation.current_leaf_id)


def stop(reply: Message) -> None:
    """Stop from any process: the flag is seen by whichever process writes the reply."""
    reply.request_stop()
    live = live_reply(reply.pk)
    if live is not None:
        live.cancel()


def delete_conversation(conversation: Conversation) -> None:
    """
    Delete a conversation, stopping its replies. The messages are locked
    first, so a reply finishing at this moment either commits its usage
    record before the delete sees it, or finds its message gone: usage
    records survive the delete, with no link, either way.
    """
    for reply in Message.objects.filter(conversation=conversation).live():
        stop(reply)
    with transaction.atomic():
        list(Message.objects.select_for_update().filter(conversation=conversation).values_list("pk", flat=True))
        conversation.delete()


def start_in_background(reply: Message, user: User) -> None:
    generation = Generation(reply, user)
    # The database work before the call is done here, on the connection this
    # request already holds; the reply's own greenlet starts with the call.
    generation.prepare()
    # run() ends the reply's followers itself, whatever happens.
    background.start(f"reply-{reply.pk}", generation.run)


def run(reply: Message, user: User) -> Message:
    """Generate ``reply`` to its end. Never raises for an upstream failure."""
    Generation(reply, user).run()
    return reply
