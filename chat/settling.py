"""
Replies whose process died: the one place they are settled.

A live reply (pending or streaming) is written by one process, which keeps
its row fresh with a heartbeat; once nobody has written it for
CHAT_STALE_STREAM_SECONDS its process is gone (``MessageQuerySet.stale``).
Settling it marks it interrupted (its text kept, a Retry offered) and, when
it had started streaming, records what it used: the prompt as estimated
before the call, the text that reached the database, both marked estimated.
A reply still pending when its process died may or may not have reached the
API; it is recorded as nothing rather than charged for a call that may never
have been made.

Whoever looks settles what they see (the thread, a stream, a new send), and
every process sweeps the whole table every CHAT_SWEEP_SECONDS (see
``chat.live``), so each stale reply is settled, with its usage, in bounded
time even when nobody opens it.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aitre import tokens
from usage import metering

from .models import Message, MessageQuerySet

logger = logging.getLogger(__name__)


def settle_stale(messages: MessageQuerySet) -> int:
    """Settle the stale replies among ``messages``; how many this call settled."""
    settled = 0
    for reply in messages.stale().select_related("conversation"):
        with transaction.atomic():
            # Guarded: another process may settle it at the same moment, or its
            # writer may turn out to be alive after all.
            if not (
                Message.objects.filter(pk=reply.pk)
                .stale()
                .update(
                    status=Message.Status.INTERRUPTED,
                    error=_("The reply was interrupted because the server stopped. You can retry it."),
                    updated_at=timezone.now(),
                )
            ):
                continue
            settled += 1
            if reply.status == Message.Status.STREAMING:
                _record_what_it_used(reply)
    if settled:
        logger.info("Settled %d reply(s) whose process had died", settled)
    return settled


def _record_what_it_used(reply: Message) -> None:
    if reply.continued_from:
        # A continuation: its call was sent the reply so far, and wrote what follows it.
        before_prompt, before_completion = reply.prompt_tokens or 0, reply.completion_tokens or 0
        prompt = before_prompt + before_completion
        completion = tokens.count(reply.content[reply.continued_from :], reply.model)
    else:
        before_prompt = before_completion = 0
        prompt = reply.prompt_tokens or 0
        completion = tokens.count(reply.content, reply.model)
    Message.objects.filter(pk=reply.pk).update(
        prompt_tokens=before_prompt + prompt,
        completion_tokens=before_completion + completion,
        total_tokens=before_prompt + prompt + before_completion + completion,
        usage_estimated=True,
    )
    metering.record(
        reply.conversation.owner_id,
        kind=metering.Kind.CHAT,
        model=reply.model,
        subject=reply.conversation,
        prompt_tokens=prompt,
        completion_tokens=completion,
        estimated=True,
        succeeded=False,
        duration_ms=max(0, int((reply.updated_at - reply.created_at).total_seconds() * 1000)),
    )
