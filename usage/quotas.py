"""
Quotas: how much of their limit a user has used this period, and whether a
new call may start.

Usage is counted from the day totals (``UsageDay``), so a check reads a few
dozen rows whatever the history. Periods are calendar days, ISO weeks (from
Monday) or months, beginning at midnight in USAGE_TIME_ZONE.

Admission is serialized per user: the check locks the user's row, so two
calls started at once are decided one after the other, and the second sees
the first as in flight. A reply in flight counts as if it used the most it
may (its context budget in, its output limit out), so a call is only
admitted while even that leaves the user under the limit, except when
nothing is in flight: then one call may start as long as the user is under
the limit at all. However many calls race, the limit is passed by at most
the one reply in flight.

Calls to an unpriced model add nothing to a limit in cost; they are counted
and shown as unpriced, never as free.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .models import Price, Quota, QuotaTopUp, UsageDay, usage_day, usage_zone
from .refusal import Refused


def period_bounds(period: str, moment: datetime) -> tuple[datetime, datetime]:
    """The calendar period containing ``moment``: [start, end) as aware datetimes in USAGE_TIME_ZONE."""
    today = usage_day(moment)
    if period == Quota.Period.DAY:
        first, after = today, today + timedelta(days=1)
    elif period == Quota.Period.WEEK:
        first = today - timedelta(days=today.weekday())
        after = first + timedelta(days=7)
    else:
        first = today.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    return midnight(first), midnight(after)


def midnight(day: date) -> datetime:
    """The moment ``day`` begins where usage is counted."""
    return datetime.combine(day, time.min, tzinfo=usage_zone())


@dataclass
class QuotaStatus:
    """Where a user stands against their limit this period."""

    quota: Quota | None
    start: datetime
    resets_at: datetime
    tokens: int
    cost: Decimal
    calls: int
    unpriced_calls: int
    estimated_calls: int
    extra_tokens: int = 0
    extra_cost: Decimal = Decimal(0)

    @property
    def unlimited(self) -> bool:
        return self.quota is None or self.quota.unlimited

    @property
    def in_cost(self) -> bool:
        return self.quota is not None and self.quota.measure == Quota.Measure.COST

    @property
    def limit(self) -> Decimal | None:
        """This period's limit, top-ups included, in tokens or in currency."""
        if self.unlimited:
            return None
        assert self.quota is not None
        if self.in_cost:
            return (self.quota.cost_limit or Decimal(0)) + self.extra_cost
        return Decimal((self.quota.token_limit or 0) + self.extra_tokens)

    @property
    def used(self) -> Decimal:
        return self.cost if self.in_cost else Decimal(self.tokens)

    @property
    def remaining(self) -> Decimal | None:
        limit = self.limit
        return None if limit is None else max(limit - self.used, Decimal(0))

    @property
    def percent(self) -> int:
        """Share of the limit used, 0 to 100 (capped: the bar cannot overflow)."""
        limit = self.limit
        if limit is None:
            return 0
        if limit <= 0:
            return 100
        return min(100, int(self.used * 100 / limit))

    @property
    def share(self) -> Decimal:
        """
        The share used, in percent to one decimal, for the bar: 0.6 % used
        must not look like nothing was (``percent`` rounds it down to 0).
        """
        limit = self.limit
        if limit is None:
            return Decimal(0)
        if limit <= 0:
            return Decimal(100)
        return min(Decimal(100), (self.used * 100 / limit).quantize(Decimal("0.1"), rounding=ROUND_UP))

    @property
    def exceeded(self) -> bool:
        limit = self.limit
        return limit is not None and self.used >= limit

    @property
    def period_label(self) -> str:
        if self.quota is None:
            return ""
        return str(Quota.Period(self.quota.period).label)

    def amount(self, value: Decimal | int | None) -> str:
        """An amount in this quota's measure, for people."""
        if value is None:
            return ""
        if self.in_cost:
            return format_money(Decimal(value))
        return _("%(tokens)s tokens") % {"tokens": formats.number_format(int(value), force_grouping=True)}

    @property
    def spend(self) -> Decimal | None:
        return priced(self.cost, self.calls, self.unpriced_calls)

    @classmethod
    def from_sums(
        cls, quota: Quota | None, start: datetime, end: datetime, used: Mapping[str, Any], extra: Mapping[str, Any]
    ) -> "QuotaStatus":
        """From the sums of day totals (used_*) and of top-ups (extra_*) over the period."""
        return cls(
            quota=quota,
            start=start,
            resets_at=end,
            tokens=used.get("used_tokens") or 0,
            cost=used.get("used_cost") or Decimal(0),
            calls=used.get("used_calls") or 0,
            unpriced_calls=used.get("used_unpriced") or 0,
            estimated_calls=used.get("used_estimated") or 0,
            extra_tokens=extra.get("extra_tokens") or 0,
            extra_cost=extra.get("extra_cost") or Decimal(0),
        )

    @property
    def remaining_label(self) -> str:
        return self.amount(self.remaining)

    def summary(self) -> str:
        return _("%(used)s used of %(limit)s.") % {"used": self.amount(self.used), "limit": self.amount(self.limit)}

    def refusal_in_flight(self, reserved: Decimal) -> str:
        """A refusal while under the limit: the calls still running may use up to ``reserved``."""
        return _(
            "Your replies still being written may use up to %(reserved)s, which could pass your usage limit "
            "(%(used)s used of %(limit)s this %(period)s). Try again when they have finished."
        ) % {
            "reserved": self.amount(reserved),
            "used": self.amount(self.used),
            "limit": self.amount(self.limit),
            "period": self.period_label,
        }

    def refusal_for_call(self, cost: Decimal, reserved: Decimal) -> str:
        """A refusal while under the limit: this call alone, at its most, would pass it."""
        left = max((self.limit or Decimal(0)) - self.used - reserved, Decimal(0))
        return _(
            "This would use up to %(cost)s, more than the %(left)s left of your usage limit "
            "(%(used)s used of %(limit)s this %(period)s). It resets on %(reset)s."
        ) % {
            "cost": self.amount(cost),
            "left": self.amount(left),
            "used": self.amount(self.used),
            "limit": self.amount(self.limit),
            "period": self.period_label,
            "reset": self.resets_label,
        }

    def refusal(self) -> str:
        """What the composer says when a call is refused."""
        return _(
            "You have reached your usage limit: %(used)s used of %(limit)s this %(period)s. It resets on %(reset)s."
        ) % {
            "used": self.amount(self.used),
            "limit": self.amount(self.limit),
            "period": self.period_label,
            "reset": self.resets_label,
        }

    @property
    def last_day(self) -> date:
        return (self.resets_at - timedelta(days=1)).date()

    @property
    def resets_label(self) -> str:
        moment = self.resets_at.astimezone(usage_zone())
        return f"{formats.date_format(moment, 'DATE_FORMAT')} {moment:%H:%M} ({moment.tzname()})"


# The sums of day totals and of top-ups a QuotaStatus is made from.
USED = {
    "used_tokens": Sum("total_tokens"),
    "used_cost": Sum("cost"),
    "used_calls": Sum("calls"),
    "used_unpriced": Sum("unpriced_calls"),
    "used_estimated": Sum("estimated_calls"),
}
EXTRA = {"extra_tokens": Sum("tokens"), "extra_cost": Sum("cost")}


def priced(cost: Decimal | None, calls: int, unpriced: int) -> Decimal | None:
    """The cost, or None when every call was to an unpriced model: shown as "unpriced", never as free."""
    return None if calls and unpriced == calls else cost


def format_money(amount: Decimal | None) -> str:
    """
    One format for every amount, so two side by side read alike ("0.009 USD"
    beside "0.12 USD", never "0.009000 USD"): at least cents, and the digits
    past them only where they are not zero (costs are kept to six places).
    """
    if amount is None:
        return _("unpriced")
    exact = amount.quantize(Decimal("0.000001")).normalize()
    places = max(2, -exact.as_tuple().exponent)  # type: ignore[operator]
    number = formats.number_format(amount.quantize(Decimal(1).scaleb(-places)), places, force_grouping=True)
    return f"{number} {settings.USAGE_CURRENCY}"


def status_for(user: User | int, *, now: datetime | None = None, quota: Quota | None = None) -> QuotaStatus:
    """
    Where ``user`` (a user or their id) stands in the period containing
    ``now``, under ``quota`` or else their own. Without a limit, the period
    shown is the calendar month.
    """
    now = now or timezone.now()
    if quota is None:
        quota = Quota.for_user(user)
    start, end = period_bounds(quota.period if quota else Quota.Period.MONTH, now)
    used = UsageDay.objects.filter(user=user, day__gte=start.date(), day__lt=end.date()).aggregate(**USED)
    extra: dict[str, Any] = {}
    if quota is not None and not quota.unlimited:
        extra = QuotaTopUp.objects.filter(user=user, created_at__gte=start, created_at__lt=end).aggregate(**EXTRA)
    return QuotaStatus.from_sums(quota, start, end, used, extra)


class QuotaExceeded(Refused):
    def __init__(self, status: QuotaStatus, reserved: Decimal = Decimal(0), call_cost: Decimal = Decimal(0)) -> None:
        retry_after = max(1, int((status.resets_at - timezone.now()).total_seconds()))
        # Under the limit, the calls still running, or this call itself, are what could pass it.
        if status.exceeded:
            message = status.refusal()
        elif call_cost:
            message = status.refusal_for_call(call_cost, reserved)
        else:
            message = status.refusal_in_flight(reserved)
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.reserved = reserved


@dataclass(frozen=True)
class InFlight:
    """
    The most a call may use, as its feature reckons it: a call still running
    (see ``count_in_flight``), or the call about to start (``admit``'s ``call``).
    Priced as ``model``, else as each name in ``priced_as``, like its record.
    """

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    units: Decimal = Decimal(0)
    variant: str = ""
    priced_as: tuple[str, ...] = ()

    def worst(self, in_cost: bool, prices: dict[Any, Price | None] | None = None) -> Decimal:
        """
        At most what this call uses, in tokens or in currency (an unpriced model
        adds no cost). ``prices``: looked-up prices to share between calls.
        """
        if not in_cost:
            return Decimal(self.prompt_tokens + self.completion_tokens)
        prices = {} if prices is None else prices
        key = (self.model, self.priced_as, self.variant)
        if key not in prices:
            prices[key] = Price.lookup([self.model, *self.priced_as], self.variant)
        price = prices[key]
        if price is None:
            return Decimal(0)
        return price.cost(prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens, units=self.units)


# Each feature with calls that run past their request (chat replies today)
# says what one user has in flight; registered from the feature's AppConfig.ready().
InFlightSource = Callable[[int], list[InFlight]]
_in_flight_sources: list[InFlightSource] = []


def count_in_flight(source: InFlightSource) -> InFlightSource:
    if source not in _in_flight_sources:
        _in_flight_sources.append(source)
    return source


def reserved_for(user_id: int, in_cost: bool) -> Decimal:
    """What ``user_id``'s calls in flight may still use, at worst, in tokens or in currency."""
    prices: dict[Any, Price | None] = {}
    return sum((call.worst(in_cost, prices) for source in _in_flight_sources for call in source(user_id)), Decimal(0))


def admit(user: User | int, call: InFlight | None = None) -> None:
    """
    Inside the caller's transaction: raise QuotaExceeded unless ``user`` (a
    user or their id) may start a call now (see the module's docstring).

    ``call``: the most the call about to start may use, where its feature
    knows it before the call (a piece read aloud, a Midjourney task, a
    studio run, a completion's prompt and maximum tokens). It is admitted
    only if that, with the calls in flight, fits under the limit: a call
    that would pass it is refused before it is made.
    """
    user_id = user if isinstance(user, int) else user.pk
    quota = Quota.for_user(user_id)
    if quota is None or quota.unlimited:
        return
    # Decide this user's calls one at a time, until the caller's new call is committed.
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk"))
    status = status_for(user_id, quota=quota)
    if status.exceeded:
        raise QuotaExceeded(status)
    reserved = reserved_for(user_id, status.in_cost)
    limit = status.limit
    assert limit is not None
    if reserved and status.used + reserved >= limit:
        raise QuotaExceeded(status, reserved)
    if call is not None:
        cost = call.worst(status.in_cost)
        if cost and status.used + reserved + cost > limit:
            raise QuotaExceeded(status, reserved, call_cost=cost)
