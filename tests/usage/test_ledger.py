"""
The ledger: every call priced when it is made, exact money, day totals kept
in step, and periods in the usage time zone.
"""

import zoneinfo
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.usage.helpers import price_mini, record, send
from usage import quotas as usage
from usage.models import Price, UsageDay, UsageRecord, usage_day


def test_a_call_is_priced_when_it_is_made_and_keeps_that_price(alice_client, conversation, fake):
    price_mini("0.15", "0.60")
    send(alice_client, conversation)
    first = UsageRecord.objects.get()
    reported = fake.state.reported[0]
    assert (first.prompt_tokens, first.completion_tokens) == (reported["prompt_tokens"], reported["completion_tokens"])
    expected = (Decimal(first.prompt_tokens) * Decimal("0.15") + first.completion_tokens * Decimal("0.60")) / 10**6
    assert first.cost == expected

    price_mini("1.00", "2.00")
    send(alice_client, conversation, "Again")
    first.refresh_from_db()
    assert first.cost == expected, "history does not change with the price"
    second = UsageRecord.objects.latest("pk")
    assert second.cost == (Decimal(second.prompt_tokens) * 1 + second.completion_tokens * 2) / 10**6


def test_a_model_without_a_price_is_unpriced_never_free(alice_client, conversation, fake):
    send(alice_client, conversation)
    assert UsageRecord.objects.get().cost is None
    day = UsageDay.objects.get()
    assert (day.calls, day.unpriced_calls) == (1, 1)
    page = alice_client.get(reverse("usage:page")).content.decode()
    assert "unpriced" in page
    assert "0.00 USD" not in page


def test_prices_by_variant_fall_back_to_the_models_general_price(db):
    Price.objects.create(model="dall-e-3", unit=Price.Unit.IMAGE, unit_price=Decimal("0.04"))
    Price.objects.create(model="dall-e-3", variant="1024x1792 hd", unit=Price.Unit.IMAGE, unit_price=Decimal("0.12"))
    assert Price.lookup(["dall-e-3"], "1024x1792 hd").cost(units=Decimal(2)) == Decimal("0.24")
    assert Price.lookup(["dall-e-3"], "512x512").cost(units=Decimal(3)) == Decimal("0.12")
    assert Price.lookup(["dall-e-2"], "512x512") is None
    # The name the server reported first, the name asked for next.
    price_mini()
    assert Price.lookup(["gpt-4o-mini-2024-07-18", "gpt-4o-mini"]).model == "gpt-4o-mini"


def test_money_is_exact_in_the_database(alice):
    Price.objects.create(model="tiny", input_price=Decimal("0.1"), output_price=Decimal("0.3"))
    for _ in range(1000):
        record(alice, model="tiny", tokens=(7, 3))
    one = UsageRecord.objects.first().cost
    assert one == Decimal("0.0000016")
    total = UsageRecord.objects.aggregate(total=Sum("cost"))["total"]
    assert total == Decimal("0.0016"), "a thousand tiny costs add up with no float drift"
    assert UsageDay.objects.aggregate(total=Sum("cost"))["total"] == total
    # Costs are kept to a billionth of the currency; below that they round.
    Price.objects.filter(model="tiny").update(input_price=Decimal("0.0004"))
    assert record(alice, model="tiny", tokens=(1, 0)).cost == Decimal("4E-10")
    assert UsageRecord.objects.latest("pk").cost == 0


def test_recording_a_call_is_one_insert_and_one_upsert(alice):
    price = price_mini()
    record(alice)
    with CaptureQueriesContext(connection) as queries:
        UsageRecord.objects.record(
            price=price, user=alice, kind="chat", model="gpt-4o-mini", prompt_tokens=5, completion_tokens=5
        )
    statements = [q["sql"].lstrip().split()[0].upper() for q in queries.captured_queries]
    assert statements == ["INSERT", "INSERT"], queries.captured_queries
    assert "ON CONFLICT" in queries.captured_queries[-1]["sql"], "the day's totals are one upsert"
    assert UsageDay.objects.get().calls == 2
    with CaptureQueriesContext(connection) as unpriced:
        UsageRecord.objects.record(price=None, user=alice, kind="chat", model="gpt-4o-mini", prompt_tokens=1)
    assert len(unpriced.captured_queries) == 2, "no price is a known answer, not a reason to look again"
    assert UsageRecord.objects.latest("pk").cost is None


def test_day_totals_agree_with_a_rebuild_from_the_records(alice, bob):
    price_mini()
    for i in range(12):
        record(
            alice if i % 3 else bob,
            model="gpt-4o-mini" if i % 2 else "other",
            created_at=timezone.now() - timedelta(days=i),
        )
    kept = sorted(UsageDay.objects.values_list("day", "user_id", "model", "calls", "total_tokens", "cost"))
    UsageDay.objects.rebuild()
    assert sorted(UsageDay.objects.values_list("day", "user_id", "model", "calls", "total_tokens", "cost")) == kept


@pytest.mark.parametrize(
    ("period", "first", "after"),
    [
        ("day", datetime(2026, 11, 30), datetime(2026, 12, 1)),
        ("week", datetime(2026, 11, 30), datetime(2026, 12, 7)),
        ("month", datetime(2026, 11, 1), datetime(2026, 12, 1)),
    ],
)
def test_periods_are_calendar_aligned_in_the_usage_time_zone(settings, period, first, after):
    settings.USAGE_TIME_ZONE = "Asia/Tokyo"
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    # Sunday 29 November 23:30 UTC is Monday 30 November 08:30 in Tokyo.
    moment = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert usage.period_bounds(period, moment) == (first.replace(tzinfo=tokyo), after.replace(tzinfo=tokyo))


def test_a_month_ends_at_the_year_end(settings):
    settings.USAGE_TIME_ZONE = "UTC"
    start, end = usage.period_bounds("month", datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert (start.date(), end.date()) == (date(2026, 12, 1), date(2027, 1, 1))


def test_usage_counts_on_the_day_of_the_usage_time_zone(settings, alice):
    settings.USAGE_TIME_ZONE = "America/New_York"
    record(alice, created_at=datetime(2026, 11, 27, 3, 0, tzinfo=UTC))  # 26 Nov, 22:00 in New York
    assert UsageDay.objects.get().day == date(2026, 11, 26)
    assert usage_day(datetime(2026, 11, 27, 3, 0, tzinfo=UTC)) == date(2026, 11, 26)
