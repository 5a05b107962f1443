"""
The engine of a reply: ``Generation`` records the reply, makes the call,
reads the upstream stream to its end, and writes the reply as it grows:
bounded by time and size, never once per token, and once at the end with
its usage. It tells an over-long prompt apart from other failures, keeps
the pictures a model draws, and continues a reply cut at the length limit.
``in_flight`` says what live replies may still cost, for every quota check.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts.models import User
from aitre import catalog, tokens
from aitre.capabilities import Capability
from aitre.client import AitreClient, AitreError, ChatStream, cancellable
from aitre.credentials import client_for, uses_personal_key
from aitre.models import SMALLEST_COMMON_CONTEXT
from lib.db import release_connection
from usage import metering
from usage.quotas import InFlight

from . import pictures, threads
from .live import register, unregister
from .models import Message
from .payload import TooLong, build_payload
from .rendering import render_markdown
from .signals import message_written

logger = logging.getLogger(__name__)

# Mid-stream writes: at most one every two seconds (what a killed process
# can lose), or sooner when this much text is unsaved.
FLUSH_SECONDS = 2.0
FLUSH_CHARS = 4000


# A reply's finish reason when the server could not take its prompt (ours, not a server's).
CONTEXT_FAILURE = "context_length"


class Generation:
    """One reply being generated: record → call → bounded writes → one final write."""

    def __init__(self, reply: Message, user: User) -> None:
        self.reply = reply
        self.user = user
        self.live = register(reply.pk)
        # A pending reply that has text is being continued: the new text is appended.
        self.continuing = reply.content if reply.continued_from else ""
        self.live.text = self.continuing
        self.started = time.monotonic()
        self.stream: ChatStream | None = None
        self.prompt_estimate = 0
        self.context_tokens = 0
        self.context_known = True
        self.called = False
        self.ttft_ms: int | None = reply.ttft_ms if self.continuing else None
        self.streamed = False
        self.payload: dict[str, Any] = {}
        self.client: AitreClient | None = None
        self.prepared = False
        # A model that answers with pictures (see chat.pictures), and what it was asked.
        self.draws = False
        self.question = ""
        self.failure: Exception | None = None
        # The prompt did not fit the server's context: Retry cannot help.
        self.context_failure = False

    def prepare(self) -> None:
        """Everything before the call that needs the database: history, limits, payload, key."""
        try:
            conversation = self.reply.conversation
            setting = catalog.setting_for(conversation.model)
            self.context_tokens = setting.effective_context_tokens
            self.context_known = setting.context_known
            history = threads.history(self.reply)
            self.payload, self.reply.context_dropped = build_payload(
                conversation, history, setting, continuing=self.continuing
            )
            self.draws = setting.can(Capability.IMAGE_OUTPUT)
            self.question = history[-1].content if history else ""
            self.prompt_estimate = tokens.count_messages(self.payload["messages"], conversation.model)
            self.client = client_for(self.user)
        except Exception as exc:  # reported by run(), like any failure
            self.failure = exc
        self.prepared = True

    def run(self) -> None:
        status: str = Message.Status.COMPLETE
        error = ""
        try:
            if not self.prepared:
                self.prepare()
            if self.failure is not None:
                raise self.failure
            self._generate()
            if self.live.cancelled:
                status, error = self._cancelled()
            elif not self._new_text() and not self._finished_already():
                status, error = Message.Status.ERROR, self._nothing_written()
        except TooLong as exc:
            status, error = Message.Status.ERROR, exc.message
            self.context_failure = True
        except AitreError as exc:
            if self.live.cancelled:
                status, error = self._cancelled()
            else:
                status, error = Message.Status.ERROR, exc.message
                if exc.status == 401 and uses_personal_key(self.user):
                    # The client cannot tell whose key it carried; the message must.
                    error = _("The API rejected your personal key (401). Check or remove it in Settings.")
                elif self._context_exceeded(exc):
                    error = self._context_message()
                    self.context_failure = True
                logger.warning("Reply %s failed: %s (%s)", self.reply.pk, error, exc.detail)
        except Exception:
            logger.exception("Reply %s failed unexpectedly", self.reply.pk)
            status, error = Message.Status.ERROR, _("Something went wrong on the server while writing this reply.")
        finally:
            try:
                self._finish(status, error)
            finally:
                # The one cleanup, whatever happened: nobody may wait on this reply any longer.
                self.live.end()
                unregister(self.reply.pk)

    def _new_text(self) -> str:
        return self.live.text[len(self.continuing) :]

    # --- Telling an over-long prompt apart -------------------------------------
    # Servers answer a prompt longer than their context in different ways: a
    # 400 naming the context (OpenAI, vLLM, llama.cpp), an error event in the
    # stream (gateways), or a stream with no text (older llama.cpp). All of
    # them get the one message below, and none of them costs anything.

    _CONTEXT_WORDS = (
        "context",
        "n_ctx",
        "too long",
        "too many tokens",
        "maximum length",
        "prompt is too large",
        "input length",
    )

    def _prompt_is_large(self) -> bool:
        # When nobody knows the context, the smallest one servers commonly run is the guide.
        context = self.context_tokens if self.context_known else min(self.context_tokens, SMALLEST_COMMON_CONTEXT)
        return self.prompt_estimate * 2 >= context

    def _context_exceeded(self, exc: AitreError) -> bool:
        if self._new_text():
            return False
        said = f"{exc.code} {exc.detail}".lower()
        if any(word in said for word in self._CONTEXT_WORDS) and exc.status in (None, 400, 413, 422):
            return True
        # A stream that ended with no text at all, from a prompt that fills the context.
        return exc.status is None and not exc.detail and self._prompt_is_large()

    def _context_message(self) -> str:
        words = {
            "model": self.reply.conversation.model,
            "prompt": number_format(self.prompt_estimate, force_grouping=True),
            "context": number_format(self.context_tokens, force_grouping=True),
        }
        if not self.context_known:
            return (
                _(
                    "%(model)s gave no answer to a prompt of about %(prompt)s tokens: it is probably longer than "
                    "this model's context, which the server does not say. Shorten your message, start a new "
                    "conversation, or pick a model with a larger context."
                )
                % words
            )
        return (
            _(
                "The conversation is too long for %(model)s: the API could not take its prompt of about %(prompt)s "
                "tokens (the model's context is taken to be %(context)s). Shorten your message, start a new "
                "conversation, or pick a model with a larger context."
            )
            % words
        )

    def _finished_already(self) -> bool:
        """A continuation the model ends at once: the reply was complete after all."""
        return bool(self.continuing) and self.stream is not None and self.stream.finish_reason == "stop"

    def _nothing_written(self) -> str:
        """A stream that ended properly with no text."""
        stream = self.stream
        if (stream is not None and stream.finish_reason == "length") or self._prompt_is_large():
            self.context_failure = True
            return self._context_message()
        return _("The API answered with an empty reply. You can retry it.")

    def _cancelled(self) -> tuple[str, str]:
        if self.live.interrupted:
            return Message.Status.INTERRUPTED, _(
                "The reply was interrupted because the server restarted. You can retry it."
            )
        return Message.Status.STOPPED, ""

    def _generate(self) -> None:
        reply, live, client = self.reply, self.live, self.client
        assert client is not None
        release_connection()
        self.called = True
        # Stop ends the call at once, even while the server has sent nothing yet.
        with cancellable(live.call):
            self.stream = client.stream_chat(self.payload)
        live.attach(self.stream)
        saved_at, saved_len = 0.0, 0
        for piece in self.stream:
            if live.cancelled:
                break
            if self.continuing and live.text == self.continuing:
                piece = joined(self.continuing, piece)
            live.append(piece)
            now = time.monotonic()
            first = not self.streamed
            self.streamed = True
            if self.ttft_ms is None:
                self.ttft_ms = int((now - self.started) * 1000)
            # The first token is written at once (others may be following
            # from another process), then at most once a second.
            if first or now - saved_at >= FLUSH_SECONDS or len(live.text) - saved_len >= FLUSH_CHARS:
                saved_at, saved_len = now, len(live.text)
                # The prompt's estimate goes with the first write: if this process
                # dies, whoever settles the reply records it (chat.settling).
                progressed = reply.save_progress(live.text, self.ttft_ms, prompt_estimate=self.prompt_estimate)
                release_connection()
                if not progressed:
                    live.cancel()  # Stop was asked for from another process.
                    break

    def _keep_pictures(self, text: str) -> pictures.Drawn:
        """The reply's pictures kept before they expire; a failure here never loses the reply."""
        try:
            return pictures.keep_pictures(
                text,
                user=self.user,
                conversation_id=self.reply.conversation_id,
                model=self.reply.model,
                prompt=self.question,
            )
        except Exception:
            logger.exception("The pictures of reply %s could not be kept", self.reply.pk)
            return pictures.Drawn(text, 0, _("something went wrong on the server."))

    def _usage(self) -> tuple[int, int, int, bool]:
        """
        This call's (prompt, completion, total, estimated): as reported, or
        estimated when the server said nothing. A call that wrote nothing and
        reported nothing costs nothing.
        """
        if self.stream is None:
            return 0, 0, 0, False
        if self.stream.usage is not None:
            usage = self.stream.usage
            return usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, False
        new_text = self._new_text()
        if not new_text:
            return 0, 0, 0, False
        # Some servers never report usage, and a stopped stream cannot.
        completion = tokens.count(new_text, self.reply.conversation.model)
        return self.prompt_estimate, completion, self.prompt_estimate + completion, True

    def _finish(self, status: str, error: str) -> None:
        """The one final write: the reply and its usage record commit together."""
        reply, stream, text = self.reply, self.stream, self.live.text
        prompt, completion, total, estimated = self._usage()
        call_succeeded = status in (Message.Status.COMPLETE, Message.Status.STOPPED)
        finish_reason = (stream.finish_reason if stream else "") or (
            "stop" if status == Message.Status.COMPLETE else ""
        )
        if self.context_failure:
            finish_reason = CONTEXT_FAILURE
        if self.continuing and status == Message.Status.ERROR:
            # A failed continuation leaves the reply as it was, cut, with the reason shown.
            status, finish_reason = Message.Status.COMPLETE, "length"
            error = _("Continuing failed: %(reason)s") % {"reason": error}
        model = (stream.model if stream else "") or reply.model
        duration_ms = int((time.monotonic() - self.started) * 1000)
        # The message shows what all its calls used; the usage record, this call's.
        before = _Before.of(reply) if self.continuing else _Before()
        # A picture reply that delivered no picture failed, and is not charged (the call is refunded).
        undelivered = False
        if self.draws and text and status in (Message.Status.COMPLETE, Message.Status.STOPPED):
            drawn = self._keep_pictures(text)
            text = drawn.text
            if status == Message.Status.COMPLETE and not drawn.kept:
                status, error, undelivered, call_succeeded = Message.Status.ERROR, drawn.failure, True, False
        rendered = render_markdown(text)
        # Looked up before the transaction, which holds the reply's row locked.
        price = metering.price_for(model, reply.model) if self.called else None
        with transaction.atomic():
            # Lock the row: a delete of its conversation either finished
            # before (the reply is gone) or waits until this commits (see
            # delete_conversation).
            exists = Message.objects.select_for_update().filter(pk=reply.pk).exists()
            finished = exists and reply.finish(
                status=status,
                content=text,
                rendered=rendered,
                error=error,
                finish_reason=finish_reason,
                model=model,
                upstream_id=(stream.response_id if stream else "") or reply.upstream_id,
                ttft_ms=self.ttft_ms,
                duration_ms=before.duration_ms + duration_ms,
                context_dropped=reply.context_dropped,
                prompt_tokens=before.prompt_tokens + prompt if stream or self.continuing else None,
                completion_tokens=before.completion_tokens + completion if stream or self.continuing else None,
                total_tokens=before.total_tokens + total if stream or self.continuing else None,
                usage_estimated=estimated or before.estimated,
                continued_from=0,
            )
            settled_with_usage = False
            if exists and not finished:
                # Swept as interrupted meanwhile: keep the text, not the verdict.
                # The settling recorded its usage if it had streamed (chat.settling).
                settled_with_usage = Message.objects.filter(pk=reply.pk, total_tokens__isnull=False).exists()
                Message.objects.filter(pk=reply.pk).update(content=text, rendered=rendered)
            # When the conversation was deleted mid-reply, the call still counts.
            if self.called and not settled_with_usage:
                charge = metering.record(
                    self.user,
                    kind=metering.Kind.CHAT,
                    model=model,
                    # Priced as the server named the model, else as it was asked for.
                    price=price,
                    subject=reply.conversation if exists else None,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    total_tokens=total,
                    estimated=estimated,
                    succeeded=call_succeeded,
                    duration_ms=duration_ms,
                )
                if undelivered:
                    metering.refund(charge)
            if finished and status in (Message.Status.COMPLETE, Message.Status.STOPPED):
                message_written.send(sender=Message, message=reply)
        if not finished and exists:
            reply.refresh_from_db()


_SENTENCE_END = ".!?:;,)]}"


def joined(before: str, continuation: str) -> str:
    """
    The continuation's first piece, with the space the model left out where
    it clearly ends one word and begins another ("lighthouse" + "Continue",
    "ended." + "Then"). A model asked to continue mid-word ("lightho" + "use")
    is left as it wrote; so is text that brings its own space or punctuation.
    """
    # Scripts written without spaces between words (Chinese, Japanese) need none.
    if not before or not continuation or before[-1].isspace() or not continuation[0].isascii():
        return continuation
    last, first = before[-1], continuation[0]
    if first.isalnum() and (last in _SENTENCE_END or (last.islower() and first.isupper())):
        return f" {continuation}"
    return continuation


@dataclass(frozen=True)
class _Before:
    """What a continued reply's earlier calls used, for the message's totals."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    duration_ms: int = 0
    estimated: bool = False

    @classmethod
    def of(cls, reply: Message) -> "_Before":
        return cls(
            reply.prompt_tokens or 0,
            reply.completion_tokens or 0,
            reply.total_tokens or 0,
            reply.duration_ms or 0,
            reply.usage_estimated,
        )


def in_flight(user_id: int) -> list[InFlight]:
    """
    The replies ``user_id`` has being written, each at the most it may use:
    its model's whole context budget in, its output limit out. Counted by
    every quota check (registered in ChatConfig.ready).
    """
    live = Message.objects.filter(conversation__owner=user_id).live().only("model", "status", "updated_at")
    running = [message for message in live if not message.is_stale]
    settings_by_model = {model: catalog.setting_for(model) for model in {message.model for message in running}}
    return [
        InFlight(
            model=message.model,
            prompt_tokens=settings_by_model[message.model].effective_context_tokens,
            completion_tokens=settings_by_model[message.model].effective_max_tokens,
        )
        for message in running
    ]
