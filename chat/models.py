from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User


def stale_before() -> datetime:
    """
    A live reply not written since this moment belongs to a process that
    died (live processes write a heartbeat every CHAT_HEARTBEAT_SECONDS).
    """
    return timezone.now() - timedelta(seconds=settings.CHAT_STALE_STREAM_SECONDS)


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def for_user(self, user: User) -> "ConversationQuerySet":
        return self.filter(owner=user)

    def listed(self) -> "ConversationQuerySet":
        """Pinned first, then the most recently active."""
        return self.filter(archived=False).order_by("-pinned", "-updated_at", "-pk")


class Conversation(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(_("title"), max_length=200, blank=True)
    model = models.CharField(_("model"), max_length=200)
    system_prompt = models.TextField(_("system prompt"), blank=True)
    # None leaves the server's default in place.
    temperature = models.FloatField(_("temperature"), null=True, blank=True)
    pinned = models.BooleanField(_("pinned"), default=False)
    archived = models.BooleanField(_("archived"), default=False)
    # The newest message of the version path on show; the path is read from
    # it back to the root, so flipping versions is one write.
    current_leaf = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    # What an import knew it by ("chatgpt:<id>", "aitre-web:<key>"): the same
    # file imported twice is recognised (transfer.importing), and an export
    # carries it on. Blank for conversations begun here.
    import_key = models.CharField(max_length=120, blank=True, editable=False)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(fields=["owner", "-pinned", "-updated_at"]),
            models.Index(fields=["owner", "import_key"], name="chat_conv_import_key", condition=~Q(import_key="")),
        ]

    def __str__(self) -> str:
        # Never the title: it is made of the first message, and this string
        # shows in the admin, where message text needs a permission (see chat.privacy).
        return self.neutral_label

    def get_absolute_url(self) -> str:
        return reverse("chat:conversation", args=[self.pk])

    @property
    def neutral_label(self) -> str:
        """How the conversation is named to those who may not read it: its number and when it began."""
        return str(_("Conversation #%(number)s of %(date)s")) % {
            "number": self.pk,
            "date": formats.date_format(timezone.localtime(self.created_at), "SHORT_DATE_FORMAT"),
        }

    @property
    def display_title(self) -> str:
        return self.title or str(_("New chat"))

    def usage_label(self) -> str:
        """How its owner sees it on their Usage page (see usage.subjects)."""
        return self.display_title

    def touch(self, **fields: Any) -> None:
        fields["updated_at"] = timezone.now()
        Conversation.objects.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            setattr(self, name, value)

    def title_from(self, text: str) -> str:
        first_line = " ".join(text.split())
        return first_line[:60] + ("…" if len(first_line) > 60 else "")


class MessageQuerySet(models.QuerySet["Message"]):
    def for_user(self, user: User) -> "MessageQuerySet":
        return self.filter(conversation__owner=user)

    def live(self) -> "MessageQuerySet":
        return self.filter(status__in=Message.LIVE_STATUSES)

    def stale(self) -> "MessageQuerySet":
        """Live replies nobody has written for too long: their process died."""
        return self.live().filter(updated_at__lt=stale_before())


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", _("user")
        ASSISTANT = "assistant", _("assistant")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        STREAMING = "streaming", _("streaming")
        COMPLETE = "complete", _("complete")
        STOPPED = "stopped", _("stopped")
        ERROR = "error", _("error")
        INTERRUPTED = "interrupted", _("interrupted")

    LIVE_STATUSES = (Status.PENDING, Status.STREAMING)

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # The message this one answers or follows; siblings are versions.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    content = models.TextField(_("content"), blank=True)
    # Content beyond the text (images, audio), as chat-completions parts.
    parts = models.JSONField(_("extra content parts"), default=list, blank=True)
    # The sanitized HTML of a finished reply, rendered once.
    rendered = models.TextField(blank=True, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.COMPLETE)
    model = models.CharField(_("model"), max_length=200, blank=True)
    finish_reason = models.CharField(_("finish reason"), max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), null=True, blank=True)
    total_tokens = models.PositiveIntegerField(_("total tokens"), null=True, blank=True)
    usage_estimated = models.BooleanField(_("usage estimated"), default=False)
    ttft_ms = models.PositiveIntegerField(_("time to first token (ms)"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("total time (ms)"), null=True, blank=True)
    upstream_id = models.CharField(_("upstream response id"), max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    # A reply being continued (see replies.continue_reply): the length of its
    # text when Continue was pressed, so what the new call wrote is known.
    continued_from = models.PositiveIntegerField(default=0, editable=False)
    # How many earlier messages did not fit the model's context budget.
    context_dropped = models.PositiveIntegerField(_("messages left out of context"), default=0)
    # Set by Stop from any process; the generating process polls it.
    cancel_requested = models.BooleanField(default=False)
    # A fresh id the composer sends with each submit: a replayed or retried
    # submit finds its message instead of writing it twice.
    client_id = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Also the heartbeat of a live reply, see MessageQuerySet.stale().
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["conversation", "parent"]),
            models.Index(
                fields=["status", "updated_at"],
                name="chat_msg_live_idx",
                condition=Q(status__in=["pending", "streaming"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"], condition=~Q(client_id=""), name="one_message_per_submit"
            )
        ]
        # Not implied by superuser status: see chat.privacy.
        permissions = [("read_message_content", _("Can read the text of other users' conversations"))]

    def __str__(self) -> str:
        # Never the text: this string shows in the admin, where text needs a permission.
        return f"{self.get_role_display()} #{self.pk}"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES

    @property
    def is_stale(self) -> bool:
        return self.is_stale_row(self.status, self.updated_at)

    @classmethod
    def is_stale_row(cls, status: str, updated_at: datetime) -> bool:
        """The rule of ``MessageQuerySet.stale``, for a row already read."""
        return status in cls.LIVE_STATUSES and updated_at < stale_before()

    @property
    def is_failed(self) -> bool:
        return self.status in (self.Status.ERROR, self.Status.INTERRUPTED)

    @property
    def is_cut(self) -> bool:
        """Complete text that stopped at the length limit: not an error, and it can go on."""
        return self.status == self.Status.COMPLETE and self.finish_reason == "length"

    @property
    def can_continue(self) -> bool:
        """
        The model may write on from the saved text: a reply cut at the length
        limit, or one whose writing was broken off (a deploy, a crash, a
        stream cut mid-way) after it had written something.
        """
        if self.role != self.Role.ASSISTANT or not self.content:
            return False
        broken_off = (
            self.status in (self.Status.INTERRUPTED, self.Status.ERROR) and self.finish_reason != "context_length"
        )
        return self.is_cut or broken_off

    # Transitions. Each is one guarded UPDATE, so a slow worker can never
    # overwrite a reply that was stopped or swept as interrupted meanwhile.

    def _advance(self, **fields: Any) -> bool:
        fields["updated_at"] = timezone.now()
        changed = Message.objects.filter(pk=self.pk, status__in=self.LIVE_STATUSES).update(**fields)
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)

    def save_progress(self, content: str, ttft_ms: int | None, prompt_estimate: int | None = None) -> bool:
        """A bounded mid-stream write; False once Stop was asked for."""
        fields: dict[str, Any] = {
            "content": content,
            "status": self.Status.STREAMING,
            "ttft_ms": ttft_ms,
            "context_dropped": self.context_dropped,
            "updated_at": timezone.now(),
        }
        if prompt_estimate is not None and self.prompt_tokens is None:
            fields.update(prompt_tokens=prompt_estimate, usage_estimated=True)
        changed = Message.objects.filter(pk=self.pk, status__in=self.LIVE_STATUSES, cancel_requested=False).update(
            **fields
        )
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)

    def finish(self, *, status: str, content: str, rendered: str, **fields: Any) -> bool:
        return self._advance(status=status, content=content, rendered=rendered, **fields)

    def reopen(self) -> None:
        """A cut reply goes back to pending, its text kept, to be continued."""
        fields = {
            "status": self.Status.PENDING,
            "finish_reason": "",
            "error": "",
            "cancel_requested": False,
            "continued_from": len(self.content),
            "updated_at": timezone.now(),
        }
        Message.objects.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            setattr(self, name, value)

    def request_stop(self) -> None:
        Message.objects.filter(pk=self.pk).update(cancel_requested=True)
        self.cancel_requested = True


class ContentAccess(models.Model):
    """
    Someone other than the owner read a conversation's messages. Written by
    every view that shows message text to an admin; the owner sees the list
    on their settings page.
    """

    reader = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Kept as text too: the record outlives the reader's account.
    reader_name = models.CharField(_("read by"), max_length=150)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="content_accesses")
    conversation = models.ForeignKey(Conversation, null=True, on_delete=models.SET_NULL, related_name="+")
    conversation_title = models.CharField(_("conversation"), max_length=200)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("message content access")
        verbose_name_plural = _("message content accesses")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.reader_name} → {self.conversation_title}"
