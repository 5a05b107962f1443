"""
The ledger: one record per API call of any kind, the day totals kept in step
with it, prices, quotas and top-ups. Every kind of call writes here through
``usage.metering``; this app knows no feature.
"""

import zoneinfo
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User

from .fields import MoneyField


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
        db_table = "chat_price"
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
LOOK_UP: Any = object()


class UsageRecordQuerySet(models.QuerySet["UsageRecord"]):
    def for_subject(self, subject: models.Model) -> "UsageRecordQuerySet":
        """The calls made for ``subject`` (a conversation, say)."""
        return self.filter(subject_type=ContentType.objects.get_for_model(subject), subject_id=subject.pk)

    def record(self, *, price: Any = LOOK_UP, **fields: Any) -> "UsageRecord":
        """
        Record one API call, priced now (a later price change must not alter
        history), and add it to its day's totals: one INSERT and one upsert.
        ``price`` (a Price, or None for unpriced) saves the lookup when the
        caller has already made it.
        """
        record = UsageRecord(**fields)
        if price is LOOK_UP:
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
    # What the call was for, in the feature that made it (a chat reply's
    # conversation, a generation, a job): any model, so the ledger depends on
    # no feature. Not a foreign key: usage history outlives what it was for.
    subject_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
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
    # A refund is a record of its own, with the charge's cost and units negated
    # (history is never rewritten), pointing at the charge it gives back: once.
    refund_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="refund", verbose_name=_("refund of")
    )

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        db_table = "chat_usagerecord"
        indexes = [
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["model", "created_at"]),
            models.Index(fields=["subject_type", "subject_id"], name="usage_record_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.model} {self.total_tokens}"

    @property
    def is_refund(self) -> bool:
        return self.refund_of_id is not None


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
                INSERT INTO {table}
                    (day, user_id, model, kind, calls, prompt_tokens, completion_tokens, total_tokens, cost,
                     unpriced_calls, estimated_calls, refunded)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (user_id, day, model, kind) DO UPDATE SET
                    calls = {table}.calls + excluded.calls,
                    refunded = {table}.refunded + excluded.refunded,
                    prompt_tokens = {table}.prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = {table}.completion_tokens + excluded.completion_tokens,
                    total_tokens = {table}.total_tokens + excluded.total_tokens,
                    cost = {table}.cost + excluded.cost,
                    unpriced_calls = {table}.unpriced_calls + excluded.unpriced_calls,
                    estimated_calls = {table}.estimated_calls + excluded.estimated_calls
                """.format(table=connection.ops.quote_name(UsageDay._meta.db_table)),  # noqa: S608 (the model's own table)
                [
                    usage_day(record.created_at),
                    record.user_id,
                    record.model,
                    record.kind,
                    # A refund is not another call; its (negative) cost is also kept apart, to be shown.
                    0 if record.is_refund else 1,
                    record.prompt_tokens,
                    record.completion_tokens,
                    record.total_tokens,
                    MoneyField().get_prep_value(record.cost or 0),
                    int(record.cost is None),
                    int(record.estimated),
                    MoneyField().get_prep_value(-(record.cost or 0) if record.is_refund else 0),
                ],
            )

    def rebuild(self) -> int:
        """Recount every day from the records (after changing USAGE_TIME_ZONE, or loading records in bulk)."""
        rows = (
            UsageRecord.objects.annotate(day=TruncDate("created_at", tzinfo=usage_zone()))
            .values("day", "user_id", "model", "kind")
            .annotate(
                n=Count("pk", filter=Q(refund_of__isnull=True)),
                p=Sum("prompt_tokens"),
                c=Sum("completion_tokens"),
                t=Sum("total_tokens"),
                money=Coalesce(Sum("cost"), 0, output_field=MoneyField()),
                unpriced=Count("pk", filter=Q(cost__isnull=True)),
                estimated=Count("pk", filter=Q(estimated=True)),
                refunds=Coalesce(Sum("cost", filter=Q(refund_of__isnull=False)), 0, output_field=MoneyField()),
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
                estimated_calls=row["estimated"],
                refunded=-row["refunds"],
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
    # Calls whose tokens the site counted itself (the server reported none).
    estimated_calls = models.PositiveIntegerField(_("estimated calls"), default=0)
    # What was given back for calls that failed after being charged (already taken off ``cost``).
    refunded = MoneyField(_("refunded"), default=Decimal(0))

    objects = UsageDayQuerySet.as_manager()

    class Meta:
        db_table = "chat_usageday"
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
        db_table = "chat_quota"
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
    def for_user(cls, user: User | int) -> "Quota | None":
        """The quota of ``user`` (a user or their id): their own, else the default, else None (unlimited)."""
        user_id = user if isinstance(user, int) else user.pk
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
        db_table = "chat_quotatopup"
        verbose_name = _("quota top-up")
        verbose_name_plural = _("quota top-ups")
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user} +{self.tokens or self.cost}"
