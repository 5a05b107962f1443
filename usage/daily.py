"""The user's Usage page: their calls day by day, and the totals of those days."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from accounts.models import User

from .models import UsageDay, usage_day
from .quotas import priced


def daily(user: User, days: int = 30, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The last ``days`` days, oldest first, each with its calls, tokens, cost and unpriced calls (zeros included)."""
    last = usage_day(now or timezone.now())
    first = last - timedelta(days=days - 1)
    rows = {
        row["day"]: row
        for row in UsageDay.objects.filter(user=user, day__gte=first, day__lte=last)
        .values("day")
        .annotate(
            call_count=Sum("calls"),
            tokens=Sum("total_tokens"),
            spend=Sum("cost"),
            unpriced=Sum("unpriced_calls"),
            estimated=Sum("estimated_calls"),
            refunded=Sum("refunded"),
        )
        .order_by()
    }
    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row: Mapping[str, Any] = rows.get(day, {})
        series.append(
            {
                "day": day,
                "calls": row.get("call_count") or 0,
                "tokens": row.get("tokens") or 0,
                "cost": row.get("spend") or Decimal(0),
                "unpriced": row.get("unpriced") or 0,
                "estimated": row.get("estimated") or 0,
                "refunded": row.get("refunded") or Decimal(0),
            }
        )
    return series


def sum_days(days: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {
        "calls": sum(d["calls"] for d in days),
        "tokens": sum(d["tokens"] for d in days),
        "cost": sum((d["cost"] for d in days), Decimal(0)),
        "unpriced": sum(d["unpriced"] for d in days),
        "estimated": sum(d["estimated"] for d in days),
        "refunded": sum((d["refunded"] for d in days), Decimal(0)),
    }
    totals["cost"] = priced(totals["cost"], totals["calls"], totals["unpriced"])
    return totals
