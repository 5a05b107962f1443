"""
The admin's usage dashboard: totals for a date range by user, model and kind
of call, day by day, and down to single calls, with a CSV of exactly what the
filters select (``usage.exports``; the filters' form is ``usage.forms``).

Totals are summed in the database from the day totals (``UsageDay``): a few
grouped queries over an index, whatever the number of calls. Single calls
and the CSV read ``UsageRecord`` over the same days (midnight to midnight in
USAGE_TIME_ZONE), so both add up to the same numbers.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from . import charts, subjects
from . import quotas as usage
from .forms import UsageFilterForm
from .models import Quota, QuotaTopUp, UsageDay, UsageRecord

# The longest range one request may sum: bounded work, whatever is asked.
# Models drawn separately in the chart; the rest are stacked as "other".
CHART_MODELS = 8
TOP = 25
NEAR_CAP_PERCENT = 80
CALLS_SHOWN = 200


@dataclass
class UsageFilter:
    start: date
    end: date  # inclusive
    user: User | None = None
    model: str = ""
    kind: str = ""

    @classmethod
    def from_form(cls, form: UsageFilterForm) -> "UsageFilter":
        data = form.cleaned_data
        return cls(data["start"], data["end"], data.get("user"), data.get("model", ""), data.get("kind", ""))

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def _narrow(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.user is not None:
            queryset = queryset.filter(user=self.user)
        if self.model:
            queryset = queryset.filter(model=self.model)
        if self.kind:
            queryset = queryset.filter(kind=self.kind)
        return queryset

    def day_totals(self) -> QuerySet[UsageDay]:
        return self._narrow(UsageDay.objects.filter(day__gte=self.start, day__lte=self.end))

    def records(self) -> QuerySet[UsageRecord]:
        after = usage.midnight(self.end + timedelta(days=1))
        return self._narrow(
            UsageRecord.objects.filter(created_at__gte=usage.midnight(self.start), created_at__lt=after)
        )


# Named apart from the model's fields: an annotation that shadows a field is
# what later filters and orderings would see.
SUMS = {
    "call_count": Sum("calls"),
    "input_tokens": Sum("prompt_tokens"),
    "output_tokens": Sum("completion_tokens"),
    "tokens": Sum("total_tokens"),
    "spend": Sum("cost"),
    "unpriced": Sum("unpriced_calls"),
    "estimated": Sum("estimated_calls"),
    "refunded": Sum("refunded"),
}


def _zeroed(row: dict[str, Any]) -> dict[str, Any]:
    for key in SUMS:
        if row.get(key) is None:
            row[key] = Decimal(0) if key in ("spend", "refunded") else 0
    row["spend"] = usage.priced(row["spend"], row["call_count"], row["unpriced"])
    return row


def grouped(days: QuerySet[UsageDay], *fields: str, limit: int | None = None) -> list[dict[str, Any]]:
    rows = days.values(*fields).annotate(**SUMS).order_by(F("spend").desc(), F("tokens").desc(), *fields)
    return [_zeroed(row) for row in (rows[:limit] if limit else rows)]


def top_users(days: QuerySet[UsageDay], limit: int = TOP) -> list[dict[str, Any]]:
    """The biggest spenders; grouped by id alone, then named: no join over every row."""
    rows = grouped(days, "user_id", limit=limit)
    names = dict(get_user_model().objects.filter(pk__in=[r["user_id"] for r in rows]).values_list("pk", "username"))
    for row in rows:
        row["username"] = names.get(row["user_id"], "")
    return rows


def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(SUMS, 0), "spend": Decimal(0), "refunded": Decimal(0)}


def _ranked(groups: dict[str, dict[str, Any]], key: str) -> list[dict[str, Any]]:
    rows = [_zeroed({key: name, **sums}) for name, sums in groups.items()]
    return sorted(rows, key=lambda r: (-(r["spend"] or 0), -r["tokens"], r[key]))


@dataclass
class Summary:
    """Totals, by model, by kind and day by day: all from one grouped query."""

    totals: dict[str, Any]
    by_model: list[dict[str, Any]]
    by_kind: list[dict[str, Any]]
    # (day, model) -> {"tokens": ..., "spend": ...}
    per_day: dict[tuple[date, str], dict[str, Any]]

    @classmethod
    def of(cls, days: QuerySet[UsageDay]) -> "Summary":
        """
        One scan of the day totals, grouped by day, model and kind (at most
        days × models × kinds rows), added up here in every other direction.
        """
        rows: Iterable[Mapping[str, Any]] = days.values("day", "model", "kind").annotate(**SUMS).order_by()
        totals = _zero()
        by_model: dict[str, dict[str, Any]] = {}
        by_kind: dict[str, dict[str, Any]] = {}
        per_day: dict[tuple[date, str], dict[str, Any]] = {}
        for row in rows:
            for bucket in (
                totals,
                by_model.setdefault(row["model"], _zero()),
                by_kind.setdefault(row["kind"], _zero()),
                per_day.setdefault((row["day"], row["model"]), {"tokens": 0, "spend": Decimal(0)}),
            ):
                for key in bucket:
                    bucket[key] += row[key] or 0
        return cls(_zeroed(totals), _ranked(by_model, "model"), _ranked(by_kind, "kind"), per_day)

    def chart(self, selection: UsageFilter, measure: str) -> charts.Chart:
        """Each day's tokens or cost, stacked by model: the biggest models each, the rest as one."""
        value = "tokens" if measure == "tokens" else "spend"
        ranked = [row["model"] for row in sorted(self.by_model, key=lambda r: (-(r[value] or 0), r["model"]))]
        # A lone leftover model is drawn as itself, not as "other".
        shown = set(ranked if len(ranked) <= CHART_MODELS + 1 else ranked[:CHART_MODELS])
        other = str(_("other models"))
        index = {day: i for i, day in enumerate(selection.days)}
        series: dict[str, list[Decimal]] = {
            name: [Decimal(0)] * len(index) for name in [*(m for m in ranked if m in shown), other]
        }
        for (day, model), sums in self.per_day.items():
            series[model if model in shown else other][index[day]] += sums[value]
        if not any(series[other]):
            del series[other]
        if measure == "tokens":
            return charts.stacked_daily(selection.days, list(series.items()), unit=_("tokens"))
        return charts.stacked_daily(
            selection.days, list(series.items()), unit=settings.USAGE_CURRENCY, format_value=lambda v: f"{v:g}"
        )


def subjects_of(selection: UsageFilter, limit: int = TOP) -> list[subjects.SubjectUsage]:
    """What the selected calls were for (a user's conversations, say), costliest first."""
    return subjects.costliest(selection.records(), limit)


def calls(selection: UsageFilter, limit: int = CALLS_SHOWN) -> list[UsageRecord]:
    return list(selection.records().select_related("user", "subject_type").order_by("-created_at", "-pk")[:limit])


# --- Who is about to hit their cap --------------------------------------------------


@dataclass
class NearCap:
    user: User
    status: usage.QuotaStatus


def near_cap(percent: int = NEAR_CAP_PERCENT, limit: int = TOP) -> list[NearCap]:
    """
    Users at ``percent`` or more of their limit this period, fullest first.
    Two grouped queries per kind of period (usage, top-ups); users under the
    default quota are filtered in the database, so this stays cheap with
    many users.
    """
    now = timezone.now()
    quotas = list(Quota.objects.all())
    default = next((q for q in quotas if q.user_id is None and not q.unlimited), None)
    # Every user with a quota of their own, unlimited ones included: the default is not theirs.
    own = {q.user_id: q for q in quotas if q.user_id is not None}
    found: list[NearCap] = []
    for period in Quota.Period.values:
        start, end = usage.period_bounds(period, now)
        in_period = UsageDay.objects.filter(day__gte=start.date(), day__lt=end.date()).values("user_id")
        limited = [q for q in own.values() if not q.unlimited and q.period == period]
        candidates = Q(user_id__in=[q.user_id for q in limited])
        if default is not None and default.period == period:
            # Without top-ups, the default's threshold: a sure lower bound for everyone under it.
            if default.measure == Quota.Measure.COST:
                having = Q(used_cost__gte=(default.cost_limit or 0) * percent / 100)
            else:
                having = Q(used_tokens__gte=(default.token_limit or 0) * percent // 100)
            topped_up = QuotaTopUp.objects.filter(created_at__gte=start, created_at__lt=end).values("user_id")
            candidates |= ~Q(user_id__in=list(own)) & (having | Q(user_id__in=topped_up))
        rows: list[Mapping[str, Any]] = list(in_period.annotate(**usage.USED).filter(candidates).order_by())
        extras = {
            extra["user_id"]: extra
            for extra in QuotaTopUp.objects.filter(
                created_at__gte=start, created_at__lt=end, user_id__in=[row["user_id"] for row in rows]
            )
            .values("user_id")
            .annotate(**usage.EXTRA)
            .order_by()
        }
        for row in rows:
            quota = own.get(row["user_id"], default)
            if quota is None or quota.unlimited:
                continue
            status = usage.QuotaStatus.from_sums(quota, start, end, row, extras.get(row["user_id"], {}))
            if status.percent >= percent:
                found.append(NearCap(row["user_id"], status))
    found.sort(key=lambda entry: -entry.status.percent)
    found = found[:limit]
    users = get_user_model().objects.in_bulk([entry.user for entry in found])
    for entry in found:
        entry.user = users[entry.user]
    return found
