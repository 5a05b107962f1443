import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import crypto


def stale_before() -> datetime:
    """
    A live reply not written since this moment belongs to a process that
    died (live processes write a heartbeat every CHAT_HEARTBEAT_SECONDS).
    """
    return timezone.now() - timedelta(seconds=settings.CHAT_STALE_STREAM_SECONDS)


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def for_user(self, user: Any) -> "ConversationQuerySet":
        return self.filter(owner=user)

    def listed(self) -> "ConversationQuerySet":
        """Pinned first, then the most recently active."""
        return self.filter(archived=False).order_by("-pinned", "-updated_at", "-pk")

    def search(self, query: str) -> "ConversationQuerySet":
        query = query.strip()
        if not query:
            return self
        # Only this queryset's conversations' messages are searched.
        matching = Message.objects.filter(conversation__in=self, content__icontains=query).values("conversation_id")
        return self.filter(Q(title__icontains=query) | Q(pk__in=matching))


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

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [models.Index(fields=["owner", "-pinned", "-updated_at"])]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return self.title or str(_("New chat"))

    def touch(self, **fields: Any) -> None:
        fields["updated_at"] = timezone.now()
        Conversation.objects.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            setattr(self, name, value)

    def thread(self, window: int | None = None) -> "Thread":
        """
        The current version path, each message with its version neighbours:
        the last ``window`` messages of it, or all. Two queries whatever the
        length: the tree's shape (ids and parents), then the messages shown.
        Replies left live by a process that died are marked interrupted here,
        where someone is about to look at them.
        """
        rows = list(self.messages.order_by("pk").values_list("pk", "parent_id", "status", "updated_at"))
        cutoff = stale_before()
        stale = [pk for pk, _, status, updated in rows if status in Message.LIVE_STATUSES and updated < cutoff]
        if stale:
            Message.objects.filter(pk__in=stale).mark_stale_interrupted()
        return Thread.build([(pk, parent) for pk, parent, _, _ in rows], self.current_leaf_id, window)

    def title_from(self, text: str) -> str:
        first_line = " ".join(text.split())
        return first_line[:60] + ("…" if len(first_line) > 60 else "")


@dataclass
class ThreadItem:
    message: "Message"
    version: int  # 1-based position among its siblings
    versions: int
    previous_version_id: int | None
    next_version_id: int | None


@dataclass
class Thread:
    items: list[ThreadItem]
    # Messages of the path before the first one shown.
    earlier: int = 0

    @classmethod
    def build(cls, rows: list[tuple[int, int | None]], leaf_id: int | None, window: int | None = None) -> "Thread":
        children: dict[int | None, list[int]] = defaultdict(list)
        parent_of: dict[int, int | None] = {}
        for pk, parent_id in rows:
            children[parent_id].append(pk)
            parent_of[pk] = parent_id
        path: list[int] = []
        node = leaf_id if leaf_id in parent_of else None
        while node is not None:
            path.append(node)
            node = parent_of[node]
        path.reverse()
        shown = path[-window:] if window else path
        loaded = Message.objects.in_bulk(shown)
        items = []
        for pk in shown:
            siblings = children[parent_of[pk]]
            index = siblings.index(pk)
            items.append(
                ThreadItem(
                    message=loaded[pk],
                    version=index + 1,
                    versions=len(siblings),
                    previous_version_id=siblings[index - 1] if index > 0 else None,
                    next_version_id=siblings[index + 1] if index + 1 < len(siblings) else None,
                )
            )
        return cls(items, earlier=len(path) - len(shown))

    @staticmethod
    def item_for(message: "Message") -> ThreadItem:
        """One message with its version neighbours, for rendering it alone."""
        siblings = list(
            Message.objects.filter(conversation_id=message.conversation_id, parent_id=message.parent_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        index = siblings.index(message.pk)
        return ThreadItem(
            message=message,
            version=index + 1,
            versions=len(siblings),
            previous_version_id=siblings[index - 1] if index > 0 else None,
            next_version_id=siblings[index + 1] if index + 1 < len(siblings) else None,
        )

    @property
    def messages(self) -> list["Message"]:
        return [item.message for item in self.items]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class MessageQuerySet(models.QuerySet["Message"]):
    def for_user(self, user: Any) -> "MessageQuerySet":
        return self.filter(conversation__owner=user)

    def live(self) -> "MessageQuerySet":
        return self.filter(status__in=Message.LIVE_STATUSES)

    def stale(self) -> "MessageQuerySet":
        """Live replies nobody has written for too long: their process died."""
        return self.live().filter(updated_at__lt=stale_before())

    def mark_stale_interrupted(self) -> int:
        return self.stale().update(
            status=Message.Status.INTERRUPTED,
            error=str(_("The reply was interrupted because the server stopped. You can retry it.")),
            updated_at=timezone.now(),
        )


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
        return self.is_live and self.updated_at < stale_before()

    @property
    def is_failed(self) -> bool:
        return self.status in (self.Status.ERROR, self.Status.INTERRUPTED)

    # Transitions. Each is one guarded UPDATE, so a slow worker can never
    # overwrite a reply that was stopped or swept as interrupted meanwhile.

    def _advance(self, **fields: Any) -> bool:
        fields["updated_at"] = timezone.now()
        changed = Message.objects.filter(pk=self.pk, status__in=self.LIVE_STATUSES).update(**fields)
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)

    def save_progress(self, content: str, ttft_ms: int | None) -> bool:
        """A bounded mid-stream write; False once Stop was asked for."""
        fields: dict[str, Any] = {
            "content": content,
            "status": self.Status.STREAMING,
            "ttft_ms": ttft_ms,
            "context_dropped": self.context_dropped,
            "updated_at": timezone.now(),
        }
        changed = Message.objects.filter(pk=self.pk, status__in=self.LIVE_STATUSES, cancel_requested=False).update(
            **fields
        )
        if changed:
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)

    def finish(self, *, status: str, content: str, rendered: str, **fields: Any) -> bool:
        return self._advance(status=status, content=content, rendered=rendered, **fields)

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


class MoneyField(models.BigIntegerField):
    """
    An exact amount of the site's currency (``USAGE_CURRENCY``), a Decimal in
    Python, stored as a whole number of billionths. SQLite keeps decimals as
    floats, and a million float additions drift; integers add up exactly on
    every database, so dashboard sums, CSV sums and quota checks agree.
    """

    SCALE = 9

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        return None if value is None else Decimal(value).scaleb(-self.SCALE)

    def to_python(self, value: Any) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))

    def get_prep_value(self, value: Any) -> int | None:
        if value is None:
            return None
        return int(Decimal(value).scaleb(self.SCALE).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def formfield(self, **kwargs: Any) -> Any:
        return forms.DecimalField(**{"decimal_places": self.SCALE, **kwargs})


class Price(models.Model):
    """What one model costs, in USAGE_CURRENCY. A model without a price is "unpriced", never free."""

    class Unit(models.TextChoices):
        TOKENS = "tokens", _("per million tokens (input and output)")
        IMAGE = "image", _("per image")
        MINUTE = "minute", _("per minute of audio")
        KCHARS = "kchars", _("per thousand characters")
        TASK = "task", _("per task")

    model = models.CharField(_("model id"), max_length=200)
    variant = models.CharField(
        _("variant"),
        max_length=100,
        blank=True,
        help_text=_(
            'For models priced by size or quality, e.g. "1024x1024 hd". '
            "Blank: the price of every variant without its own."
        ),
    )
    unit = models.CharField(_("unit"), max_length=16, choices=Unit.choices, default=Unit.TOKENS)
    input_price = models.DecimalField(
        _("input price"), max_digits=14, decimal_places=6, null=True, blank=True, help_text=_("Per million tokens.")
    )
    output_price = models.DecimalField(
        _("output price"), max_digits=14, decimal_places=6, null=True, blank=True, help_text=_("Per million tokens.")
    )
    unit_price = models.DecimalField(
        _("price per unit"),
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("Per image, minute, thousand characters or task."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["model", "variant"]
        constraints = [models.UniqueConstraint(fields=["model", "variant"], name="one_price_per_model_variant")]

    def __str__(self) -> str:
        return f"{self.model} {self.variant}".strip()

    def clean(self) -> None:
        if self.unit == self.Unit.TOKENS:
            if self.input_price is None:
                raise ValidationError({"input_price": _("A price per token needs an input price.")})
        elif self.unit_price is None:
            raise ValidationError({"unit_price": _("This unit needs a price per unit.")})

    def cost(self, *, prompt_tokens: int = 0, completion_tokens: int = 0, units: Decimal = Decimal(0)) -> Decimal:
        if self.unit == self.Unit.TOKENS:
            per_million = prompt_tokens * (self.input_price or 0) + completion_tokens * (self.output_price or 0)
            return Decimal(per_million) / 1_000_000
        return Decimal(units) * (self.unit_price or 0)

    @classmethod
    def lookup(cls, models_: list[str], variant: str = "") -> "Price | None":
        """The price of the first of ``models_`` that has one: the exact variant, else the model's general price."""
        candidates = {(p.model, p.variant): p for p in cls.objects.filter(model__in=models_, variant__in={variant, ""})}
        for name in models_:
            price = candidates.get((name, variant)) or candidates.get((name, ""))
            if price is not None:
                return price
        return None


# "Look the price up", as opposed to None: "there is no price".
_LOOK_UP = object()


class UsageRecordQuerySet(models.QuerySet["UsageRecord"]):
    def record(self, *, price: Any = _LOOK_UP, **fields: Any) -> "UsageRecord":
        """
        Record one API call, priced now (a later price change must not alter
        history), and add it to its day's totals: one INSERT and one upsert.
        ``price`` (a Price, or None for unpriced) saves the lookup when the
        caller has already made it.
        """
        record = UsageRecord(**fields)
        if price is _LOOK_UP:
            price = Price.lookup([record.model], record.variant)
        if price is not None:
            record.cost = price.cost(
                prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens, units=record.units
            )
        record.save(force_insert=True)
        UsageDay.objects.add(record)
        return record


class UsageRecord(models.Model):
    """One row per API call of any kind: the single source for usage and quotas."""

    class Kind(models.TextChoices):
        CHAT = "chat", _("chat")
        COMPLETION = "completion", _("completion")
        EMBEDDING = "embedding", _("embedding")
        IMAGE = "image", _("image")
        SPEECH = "speech", _("speech")
        TRANSCRIPTION = "transcription", _("transcription")
        TRANSLATION = "translation", _("translation")
        MIDJOURNEY = "midjourney", _("Midjourney")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    model = models.CharField(_("model"), max_length=200)
    # Kept when the conversation is deleted: usage history must not change.
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    total_tokens = models.PositiveIntegerField(_("total tokens"), default=0)
    # Images, minutes of audio, thousands of characters or tasks, for calls not priced by the token.
    units = models.DecimalField(_("units"), max_digits=14, decimal_places=4, default=Decimal(0))
    variant = models.CharField(_("variant"), max_length=100, blank=True)
    # Priced when the call was made; None when the model had no price.
    cost = MoneyField(_("cost"), null=True, blank=True)
    estimated = models.BooleanField(_("estimated"), default=False)
    succeeded = models.BooleanField(_("succeeded"), default=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        indexes = [
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["model", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.model} {self.total_tokens}"


def usage_zone() -> Any:
    return zoneinfo.ZoneInfo(settings.USAGE_TIME_ZONE)


def usage_day(moment: datetime) -> date:
    """The calendar day of ``moment`` where usage is counted (USAGE_TIME_ZONE)."""
    return moment.astimezone(usage_zone()).date()


class UsageDayQuerySet(models.QuerySet["UsageDay"]):
    def add(self, record: UsageRecord) -> None:
        """Add one record to its day's row, creating the row if need be, in one statement."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO chat_usageday
                    (day, user_id, model, kind, calls, prompt_tokens, completion_tokens, total_tokens, cost,
                     unpriced_calls)
                VALUES (%s, %s, %s, %s, 1, %s, %s, %s, %s, %s)
                ON CONFLICT (user_id, day, model, kind) DO UPDATE SET
                    calls = chat_usageday.calls + 1,
                    prompt_tokens = chat_usageday.prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = chat_usageday.completion_tokens + excluded.completion_tokens,
                    total_tokens = chat_usageday.total_tokens + excluded.total_tokens,
                    cost = chat_usageday.cost + excluded.cost,
                    unpriced_calls = chat_usageday.unpriced_calls + excluded.unpriced_calls
                """,
                [
                    usage_day(record.created_at),
                    record.user_id,
                    record.model,
                    record.kind,
                    record.prompt_tokens,
                    record.completion_tokens,
                    record.total_tokens,
                    MoneyField().get_prep_value(record.cost or 0),
                    int(record.cost is None),
                ],
            )

    def rebuild(self) -> int:
        """Recount every day from the records (after changing USAGE_TIME_ZONE, or loading records in bulk)."""
        rows = (
            UsageRecord.objects.annotate(day=TruncDate("created_at", tzinfo=usage_zone()))
            .values("day", "user_id", "model", "kind")
            .annotate(
                n=Count("pk"),
                p=Sum("prompt_tokens"),
                c=Sum("completion_tokens"),
                t=Sum("total_tokens"),
                money=Coalesce(Sum("cost"), 0, output_field=MoneyField()),
                unpriced=Count("pk", filter=Q(cost__isnull=True)),
            )
            .order_by()
        )
        days = [
            UsageDay(
                day=row["day"],
                user_id=row["user_id"],
                model=row["model"],
                kind=row["kind"],
                calls=row["n"],
                prompt_tokens=row["p"],
                completion_tokens=row["c"],
                total_tokens=row["t"],
                cost=row["money"],
                unpriced_calls=row["unpriced"],
            )
            for row in rows.iterator(chunk_size=5000)
        ]
        self.all().delete()
        self.bulk_create(days, batch_size=5000)
        return len(days)


class UsageDay(models.Model):
    """
    The day's totals of one user's calls to one model, kept in step with
    UsageRecord by ``UsageRecord.objects.record``. Quotas and dashboards sum
    these few rows instead of every call.
    """

    day = models.DateField(_("day"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(_("model"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=UsageRecord.Kind.choices)
    calls = models.PositiveIntegerField(_("calls"), default=0)
    prompt_tokens = models.PositiveBigIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveBigIntegerField(_("completion tokens"), default=0)
    total_tokens = models.PositiveBigIntegerField(_("total tokens"), default=0)
    cost = MoneyField(_("cost"), default=Decimal(0))
    unpriced_calls = models.PositiveIntegerField(_("unpriced calls"), default=0)

    objects = UsageDayQuerySet.as_manager()

    class Meta:
        verbose_name = _("usage per day")
        verbose_name_plural = _("usage per day")
        constraints = [models.UniqueConstraint(fields=["user", "day", "model", "kind"], name="one_usage_day")]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.model} {self.kind}"


class Quota(models.Model):
    """
    A cap on a user's usage per calendar period (in USAGE_TIME_ZONE). The row
    without a user is everyone's default; a user's own row overrides it. No
    row at all means unlimited.
    """

    class Period(models.TextChoices):
        DAY = "day", _("day")
        WEEK = "week", _("week")
        MONTH = "month", _("month")

    class Measure(models.TextChoices):
        TOKENS = "tokens", _("tokens")
        COST = "cost", _("cost")
        UNLIMITED = "unlimited", _("unlimited")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quota",
        help_text=_("Blank: the default for every user without a quota of their own."),
    )
    measure = models.CharField(_("limit in"), max_length=16, choices=Measure.choices, default=Measure.TOKENS)
    period = models.CharField(_("per"), max_length=16, choices=Period.choices, default=Period.MONTH)
    token_limit = models.PositiveBigIntegerField(_("token limit"), null=True, blank=True)
    cost_limit = models.DecimalField(_("cost limit"), max_digits=14, decimal_places=4, null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        # One row per user, and one default (user NULL counts as user 0).
        constraints = [models.UniqueConstraint(Coalesce("user", 0), name="one_quota_per_user")]

    def __str__(self) -> str:
        return str(self.user) if self.user_id else str(_("Default for everyone"))

    def clean(self) -> None:
        if self.measure == self.Measure.TOKENS and self.token_limit is None:
            raise ValidationError({"token_limit": _("A limit in tokens needs a token limit.")})
        if self.measure == self.Measure.COST and self.cost_limit is None:
            raise ValidationError({"cost_limit": _("A limit in cost needs a cost limit.")})

    @property
    def unlimited(self) -> bool:
        return self.measure == self.Measure.UNLIMITED

    @classmethod
    def for_user(cls, user: Any) -> "Quota | None":
        """The quota of ``user`` (a user or their id): their own, else the default, else None (unlimited)."""
        user_id = getattr(user, "pk", user)
        quotas = {q.user_id: q for q in cls.objects.filter(Q(user_id=user_id) | Q(user__isnull=True))}
        return quotas.get(user_id) or quotas.get(None)


class QuotaTopUp(models.Model):
    """A one-off addition to a user's limit, for the period in which it is granted."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota_top_ups")
    tokens = models.PositiveBigIntegerField(_("extra tokens"), default=0)
    cost = models.DecimalField(_("extra cost"), max_digits=14, decimal_places=4, default=Decimal(0))
    note = models.CharField(_("note"), max_length=200, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("granted"), default=timezone.now)

    class Meta:
        verbose_name = _("quota top-up")
        verbose_name_plural = _("quota top-ups")
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user} +{self.tokens or self.cost}"


class CredentialQuerySet(models.QuerySet["Credential"]):
    def site(self) -> "CredentialQuerySet":
        return self.filter(user__isnull=True, is_active=True).order_by("-updated_at")

    def personal(self, user: Any) -> "CredentialQuerySet":
        return self.filter(user=user, is_active=True)


class Credential(models.Model):
    """
    An API key, encrypted at rest. With no user it is the site's (base URL +
    key, set by admins); with a user it is that user's personal key, used
    with the site's base URL: users never choose where the server connects.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="credentials"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    base_url = models.URLField(
        _("base URL"), blank=True, help_text=_("For example https://api.example.com, without /v1.")
    )
    encrypted_key = models.TextField(editable=False)
    key_last4 = models.CharField(_("key ends with"), max_length=4, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        verbose_name = _("API credential")
        verbose_name_plural = _("API credentials")
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(user__isnull=False), name="one_personal_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.name or self.base_url or _('personal key')} ({self.masked_key})"

    def set_key(self, raw_key: str) -> None:
        raw_key = raw_key.strip()
        self.encrypted_key = crypto.encrypt(raw_key)
        self.key_last4 = raw_key[-4:]
        self.updated_at = timezone.now()

    @property
    def key(self) -> str:
        return crypto.decrypt(self.encrypted_key) if self.encrypted_key else ""

    @property
    def masked_key(self) -> str:
        return f"••••{self.key_last4}" if self.key_last4 else "—"


class ModelSetting(models.Model):
    """Admin choices about one model: offered or not, limits, the default."""

    name = models.CharField(_("model id"), max_length=200, unique=True)
    label = models.CharField(_("display name"), max_length=200, blank=True)
    offered = models.BooleanField(
        _("offered to users"),
        default=True,
        help_text=_(
            "Unticked models are hidden even when the API lists them. Ticked models are offered even when it does not."
        ),
    )
    is_default = models.BooleanField(_("default model"), default=False)
    max_tokens = models.PositiveIntegerField(
        _("max output tokens"), null=True, blank=True, help_text=_("Blank: the site default.")
    )
    context_tokens = models.PositiveIntegerField(
        _("context budget (tokens)"), null=True, blank=True, help_text=_("Blank: the site default.")
    )

    class Meta:
        verbose_name = _("model setting")
        verbose_name_plural = _("model settings")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_model")
        ]

    def __str__(self) -> str:
        return self.label or self.name

    @property
    def effective_max_tokens(self) -> int:
        return self.max_tokens or settings.AITRE_DEFAULT_MAX_TOKENS

    @property
    def effective_context_tokens(self) -> int:
        return self.context_tokens or settings.AITRE_DEFAULT_CONTEXT_TOKENS
