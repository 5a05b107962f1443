"""Prices, costs, quotas and the usage pages, against the fake API's reported usage."""

import csv
import io
import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from aitre.models import ModelSetting
from chat.models import Conversation, Message
from usage import charts, reports
from usage import quotas as usage
from usage.models import Price, Quota, QuotaTopUp, UsageDay, UsageRecord, usage_day

from .helpers import run_concurrently, wait_for

JSON = {"HTTP_ACCEPT": "application/json"}
DASHBOARD = "/admin/usage/usagerecord/dashboard/"


def price_mini(input_price: str = "0.15", output_price: str = "0.60") -> Price:
    price, _ = Price.objects.update_or_create(
        model="gpt-4o-mini",
        variant="",
        defaults={"input_price": Decimal(input_price), "output_price": Decimal(output_price)},
    )
    return price


def record(user: User, *, model: str = "gpt-4o-mini", tokens: tuple[int, int] = (100, 50), **fields) -> UsageRecord:
    prompt, completion = tokens
    return UsageRecord.objects.record(
        user=user,
        kind=fields.pop("kind", UsageRecord.Kind.CHAT),
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        **fields,
    )


def send(client: Client, conversation: Conversation, text: str = "Hello", **extra):
    return client.post(reverse("chat:send", args=[conversation.pk]), {"text": text}, **extra)


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", "root-password-1"))
    return client


# --- Prices and cost ---------------------------------------------------------------------


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


# --- Periods -------------------------------------------------------------------------------


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


# --- Quotas ----------------------------------------------------------------------------------


def test_over_quota_the_call_is_refused_plainly_and_nothing_changes(alice_client, alice, conversation, fake):
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.MONTH, token_limit=1000)
    record(alice, tokens=(800, 200))
    response = send(alice_client, conversation, "Still there?", **JSON)
    assert response.status_code == 429
    message = response.json()["error"]
    assert "1,000 tokens used of 1,000 tokens" in message
    _, resets = usage.period_bounds("month", timezone.now())
    assert f"{resets.day}, {resets.year}" in message, "it says when the limit resets"
    assert int(response["Retry-After"]) > 0
    assert not fake.chat_requests(), "no API call is made"
    assert not Message.objects.exists()

    without_script = send(alice_client, conversation, "Still there?")
    assert without_script.status_code == 429
    page = without_script.content.decode()
    assert "You have reached your usage limit" in page
    assert ">Still there?</textarea>" in page, "what they typed is kept"

    refused_start = alice_client.post(reverse("chat:start"), {"text": "A new chat", "model": "gpt-4o-mini"}, **JSON)
    assert refused_start.status_code == 429
    assert Conversation.objects.count() == 1, "a refused first message leaves no empty conversation"

    reply = Message.objects.create(conversation=conversation, role="assistant", content="Earlier")
    assert alice_client.post(reverse("chat:regenerate", args=[reply.pk]), **JSON).status_code == 429
    assert Message.objects.count() == 1


def test_the_composer_warns_near_the_limit_and_says_when_it_resets(alice_client, alice, conversation):
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.DAY, token_limit=1000)
    record(alice, tokens=(500, 300))
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert "You have used 80% of your usage limit for this day." in page
    assert "800 tokens used of 1,000 tokens." in page
    assert "It resets on" in page
    record(alice, tokens=(150, 50))
    page = alice_client.get(reverse("chat:home")).content.decode()
    assert "You have reached your usage limit for this day." in page


def test_a_users_own_quota_overrides_the_default(alice_client, alice, conversation, fake):
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.MONTH, token_limit=10)
    Quota.objects.create(user=alice, measure=Quota.Measure.UNLIMITED)
    record(alice, tokens=(800, 200))
    assert send(alice_client, conversation).status_code == 302
    assert Message.objects.get(role="assistant").status == "complete"


def test_a_top_up_lifts_the_limit_for_this_period_only(alice_client, alice, conversation, fake):
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.MONTH, token_limit=1000)
    record(alice, tokens=(800, 200))
    start, _ = usage.period_bounds("month", timezone.now())
    QuotaTopUp.objects.create(user=alice, tokens=5000, created_at=start - timedelta(seconds=1))
    assert send(alice_client, conversation, **JSON).status_code == 429, "last period's top-up has expired"
    QuotaTopUp.objects.create(user=alice, tokens=5000)
    status = usage.status_for(alice)
    assert (status.limit, status.remaining) == (6000, 5000)
    assert send(alice_client, conversation).status_code == 302


def test_a_limit_in_cost_counts_priced_calls(alice_client, alice, conversation, fake):
    price_mini("10", "10")  # 1,000 tokens cost 0.01
    Quota.objects.create(measure=Quota.Measure.COST, period=Quota.Period.WEEK, cost_limit=Decimal("0.05"))
    for _ in range(4):
        record(alice, tokens=(800, 200))
    record(alice, model="unpriced-model", tokens=(10**6, 0))
    status = usage.status_for(alice)
    assert (status.used, status.exceeded, status.unpriced_calls) == (Decimal("0.04"), False, 1)
    record(alice, tokens=(800, 200))
    response = send(alice_client, conversation, **JSON)
    assert response.status_code == 429
    assert "0.05 USD used of 0.05 USD" in response.json()["error"]


def quota_race(client_for, conversations, fake):
    """Every conversation sends at once; the answers' status codes."""
    codes: list[int] = []
    pending = list(conversations)

    def one() -> None:
        conversation = pending.pop()
        codes.append(send(client_for(), conversation, "Race", **JSON).status_code)

    run_concurrently(one, len(conversations))
    return sorted(codes)


def test_a_refusal_for_replies_in_flight_says_so_and_when_to_retry(alice_client, alice, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", context_tokens=500, max_tokens=400)
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.MONTH, token_limit=1000)
    record(alice, tokens=(150, 50))
    writing = Conversation.objects.create(owner=alice, model="gpt-4o-mini")
    question = Message.objects.create(conversation=writing, role="user", content="Long one")
    Message.objects.create(
        conversation=writing, parent=question, role="assistant", status="streaming", model="gpt-4o-mini"
    )
    other = Conversation.objects.create(owner=alice, model="gpt-4o-mini")
    response = send(alice_client, other, "And this?", **JSON)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    message = response.json()["error"]
    # 200 used, 800 left: the reply being written may use 900 (its context budget and output limit).
    assert "Your replies still being written may use up to 900 tokens" in message
    assert "200 tokens used of 1,000 tokens" in message and "when they have finished" in message
    assert "You have reached your usage limit" not in message, "the limit is not reached"
    assert not fake.chat_requests()


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_pass_the_limit_by_at_most_the_one_in_flight(alice, fake):
    fake.state.token_delay = 0.02
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.DAY, token_limit=1000)
    record(alice, tokens=(900, 90))  # 10 tokens left: room for one reply, never for two
    conversations = [Conversation.objects.create(owner=alice, model="gpt-4o-mini") for _ in range(6)]

    def client() -> Client:
        c = Client()
        c.force_login(alice)
        return c

    assert quota_race(client, conversations, fake) == [200, 429, 429, 429, 429, 429]
    wait_for(lambda: not Message.objects.live().exists())
    assert len(fake.chat_requests()) == 1
    one_reply = UsageRecord.objects.latest("pk").total_tokens
    assert usage.status_for(alice).used == 990 + one_reply


@pytest.mark.django_db(transaction=True)
def test_concurrent_calls_with_room_for_all_of_them_all_start(alice, fake):
    fake.state.token_delay = 0.02
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.DAY, token_limit=10**7)
    conversations = [Conversation.objects.create(owner=alice, model="gpt-4o-mini") for _ in range(4)]

    def client() -> Client:
        c = Client()
        c.force_login(alice)
        return c

    assert quota_race(client, conversations, fake) == [200] * 4
    wait_for(lambda: not Message.objects.live().exists())


# --- The user's Usage page --------------------------------------------------------------------


def test_the_usage_page_shows_this_period_the_last_30_days_and_the_costliest_chats(alice_client, alice, bob):
    price_mini("1", "1")
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.MONTH, token_limit=10_000)
    cheap = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Cheap chat")
    dear = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Dear chat")
    record(alice, subject=cheap, tokens=(100, 0))
    record(alice, subject=dear, tokens=(2000, 500))
    record(bob, tokens=(10**6, 0))
    page = alice_client.get(reverse("usage:page")).content.decode()
    assert '<dd data-stat="tokens">2,600</dd>' in page
    assert '<dd data-stat="cost">0.0026 USD</dd>' in page.replace("0.002600", "0.0026")
    assert 'value="26.0"' in page, "the quota bar"
    assert "7,400 tokens remaining" in page
    assert page.index("Dear chat") < page.index("Cheap chat"), "the most expensive first"
    assert page.count('<rect x="') >= 1
    assert "1,000,000" not in page, "only the user's own usage"


def test_a_little_used_shows_as_a_little_whatever_the_date(alice):
    quota = Quota(measure=Quota.Measure.TOKENS, period=Quota.Period.MONTH, token_limit=100_000)
    # Fixed moments, the first of a month among them: the share never depends on today.
    for moment in [datetime(2026, 12, 1, 0, 5, tzinfo=UTC), datetime(2026, 12, 17, 23, 55, tzinfo=UTC)]:
        record(alice, tokens=(500, 100), created_at=moment)
        status = usage.status_for(alice, now=moment, quota=quota)
        assert status.tokens == 600
        assert (status.percent, status.share) == (0, Decimal("0.6"))
        UsageRecord.objects.all().delete()
        UsageDay.objects.all().delete()


def test_the_usage_page_without_a_limit(alice_client):
    page = alice_client.get(reverse("usage:page")).content.decode()
    assert "Your usage has no limit." in page
    assert "No usage in this period." in page


# --- The admin's dashboard ---------------------------------------------------------------------


def dashboard_totals(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-total="(\w+)"[^>]*>([^<]*)<', html))


def csv_rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_dashboard_totals_equal_the_csv_and_what_the_api_reported(
    alice_client, bob_client, alice, bob, fake, admin_client
):
    price_mini("0.15", "0.60")
    for client, owner, texts in ((alice_client, alice, ["One", "Two", "Three"]), (bob_client, bob, ["Hi"])):
        conversation = Conversation.objects.create(owner=owner, model="gpt-4o-mini")
        for text in texts:
            send(client, conversation, text)
    reported = fake.state.reported
    assert len(reported) == 4
    api_prompt = sum(r["prompt_tokens"] for r in reported)
    api_completion = sum(r["completion_tokens"] for r in reported)
    sums = UsageRecord.objects.aggregate(p=Sum("prompt_tokens"), c=Sum("completion_tokens"), cost=Sum("cost"))
    assert (sums["p"], sums["c"]) == (api_prompt, api_completion)

    html = admin_client.get(DASHBOARD).content.decode()
    totals = dashboard_totals(html)
    assert totals["call_count"] == "4"
    assert totals["input_tokens"] == f"{api_prompt:,}"
    assert totals["output_tokens"] == f"{api_completion:,}"
    assert f'data-exact="{sums["cost"]}"' in html

    rows = csv_rows(admin_client.get(DASHBOARD, {"format": "csv"}))
    assert len(rows) == 4
    assert sum(int(r["prompt_tokens"]) for r in rows) == api_prompt
    assert sum(int(r["completion_tokens"]) for r in rows) == api_completion
    assert sum(Decimal(r["cost"]) for r in rows) == sums["cost"]

    # Filtered: the page and the CSV still agree.
    html = admin_client.get(DASHBOARD, {"user": "bob"}).content.decode()
    bob_rows = csv_rows(admin_client.get(DASHBOARD, {"user": "bob", "format": "csv"}))
    assert [r["user"] for r in bob_rows] == ["bob"]
    assert dashboard_totals(html)["input_tokens"] == f"{int(bob_rows[0]['prompt_tokens']):,}"


def test_dashboard_ranges_follow_the_usage_days(admin_client, alice, settings):
    settings.USAGE_TIME_ZONE = "UTC"
    record(alice, created_at=datetime(2026, 11, 1, 0, 0, tzinfo=UTC), tokens=(1, 0))
    record(alice, created_at=datetime(2026, 11, 7, 23, 59, 59, tzinfo=UTC), tokens=(2, 0))
    record(alice, created_at=datetime(2026, 11, 8, 0, 0, tzinfo=UTC), tokens=(4, 0))
    query = {"start": "2026-11-01", "end": "2026-11-07"}
    assert dashboard_totals(admin_client.get(DASHBOARD, query).content.decode())["input_tokens"] == "3"
    rows = csv_rows(admin_client.get(DASHBOARD, {**query, "format": "csv"}))
    assert sum(int(r["prompt_tokens"]) for r in rows) == 3


def test_dashboard_groups_by_user_model_and_kind_and_drills_down(admin_client, alice, bob):
    price_mini()
    chat = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Alice's big chat")
    record(alice, subject=chat, tokens=(5000, 1000))
    record(alice, model="dall-e-3", kind=UsageRecord.Kind.IMAGE, tokens=(0, 0))
    record(bob, tokens=(10, 10))
    html = admin_client.get(DASHBOARD).content.decode()
    assert html.index(">alice</a>") < html.index(">bob</a>"), "top users first"
    assert '<a href="?user=alice">alice</a>' in html, "a user links to their own usage"
    assert "dall-e-3" in html and 'id="by-kind"' in html and ">image</a>" in html
    assert "unpriced" in html, "dall-e-3 has no price"
    assert "<svg" in html and "Tokens per day, by model" in html

    drill = admin_client.get(DASHBOARD, {"user": "alice"}).content.decode()
    assert f'href="/admin/chat/conversation/{chat.pk}/change/">Conversation #{chat.pk} of' in drill, "what it was for"
    assert "big chat" not in drill, "a title is content: the admin sees the conversation's number"
    assert drill.count('href="/admin/usage/usagerecord/') >= 2, "each call links to its record"
    assert ">bob</a>" not in drill

    model_only = admin_client.get(DASHBOARD, {"model": "dall-e-3"}).content.decode()
    assert dashboard_totals(model_only)["call_count"] == "1"


def test_the_dashboard_shows_who_is_near_their_cap(admin_client, alice, bob, db):
    carol = User.objects.create_user("carol")
    Quota.objects.create(measure=Quota.Measure.TOKENS, period=Quota.Period.MONTH, token_limit=1000)
    Quota.objects.create(user=carol, measure=Quota.Measure.TOKENS, period=Quota.Period.DAY, token_limit=100)
    record(alice, tokens=(850, 0))  # 85%
    record(bob, tokens=(100, 0))  # 10%
    record(carol, tokens=(120, 0))  # 120% of her own daily cap
    html = admin_client.get(DASHBOARD).content.decode()
    section = html[html.index('id="near-cap"') :]
    assert section.index(">carol</a>") < section.index(">alice</a>")
    assert ">bob</a>" not in section[: section.index("</table>")]


def test_near_the_cap_in_cost_and_with_top_ups(admin_client, alice, bob):
    price_mini("10", "10")  # 1,000 tokens cost 0.01
    Quota.objects.create(measure=Quota.Measure.COST, period=Quota.Period.WEEK, cost_limit=Decimal("0.10"))
    record(alice, tokens=(9000, 0))  # 90%
    record(bob, tokens=(9000, 0))
    QuotaTopUp.objects.create(user=bob, cost=Decimal("0.90"))  # 9% of 1.00
    near = reports.near_cap()
    assert [(entry.user.username, entry.status.percent) for entry in near] == [("alice", 90)]
    assert near[0].status.summary() == "0.09 USD used of 0.10 USD."


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-11-10", "end": "2026-11-01"},
        {"start": "not-a-date"},
        {"user": "nobody"},
        {"start": "2020-01-01"},
    ],
)
def test_bad_dashboard_filters_are_a_clear_400(admin_client, query):
    response = admin_client.get(DASHBOARD, query)
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()


def test_the_dashboard_is_for_staff_with_the_permission(client, alice, alice_client):
    assert client.get(DASHBOARD).status_code == 302
    assert alice_client.get(DASHBOARD)["Location"].startswith("/admin/login/")
    alice.is_staff = True
    alice.save()
    staff = Client()
    staff.force_login(alice)
    assert staff.get(DASHBOARD).status_code == 403
    alice.user_permissions.add(Permission.objects.get(codename="view_usagerecord"))
    staff = Client()
    staff.force_login(User.objects.get(pk=alice.pk))
    assert staff.get(DASHBOARD).status_code == 200


def test_csv_cells_cannot_run_as_spreadsheet_formulas(admin_client, db):
    mallory = User.objects.create_user("=HYPERLINK(1)")
    record(mallory, model="@evil")
    row = csv_rows(admin_client.get(DASHBOARD, {"format": "csv"}))[0]
    assert (row["user"], row["model"]) == ("'=HYPERLINK(1)", "'@evil")


def test_usage_records_cannot_be_changed_or_deleted_in_the_admin(admin_client, alice):
    entry = record(alice)
    assert admin_client.post(f"/admin/usage/usagerecord/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UsageRecord.objects.filter(pk=entry.pk).exists()


# --- Charts ---------------------------------------------------------------------------------------


def test_chart_scales_are_round_and_bars_stack_to_their_total():
    assert [charts.nice_step(top) for top in (0, 9, 37, 1234, 0.003)] == [1, 5, 10, 500, 0.001]
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]
    chart = charts.stacked_daily(days, [("a", [10, 0, 30]), ("b", [10, 5, 0])], unit="tokens")
    assert [t.label for t in chart.y_ticks] == ["0", "10", "20", "30"]
    first_a, first_b, second_b, third_a = chart.bars
    assert first_a.height == first_b.height == 2 * second_b.height
    assert third_a.height == 3 * first_a.height
    assert first_b.y + first_b.height == pytest.approx(first_a.y, abs=0.2), "b is stacked on a"
    assert first_b.y == pytest.approx(chart.y_ticks[2].position, abs=0.2), "10 + 10 reaches the 20 line"
    assert [name for name, _ in chart.legend] == ["a", "b"]


def test_admins_set_prices_quotas_and_top_ups_with_clear_errors(admin_client, alice):
    response = admin_client.post(
        reverse("admin:usage_price_add"), {"model": "gpt-4o", "variant": "", "unit": "tokens", "input_price": ""}
    )
    assert response.status_code == 200 and "A price per token needs an input price." in response.content.decode()
    admin_client.post(
        reverse("admin:usage_price_add"),
        {"model": "gpt-4o", "variant": "", "unit": "tokens", "input_price": "2.5", "output_price": "10"},
    )
    assert Price.objects.get().cost(prompt_tokens=1000, completion_tokens=1000) == Decimal("0.0125")

    quota = {"measure": "tokens", "period": "week", "token_limit": "50000"}
    assert admin_client.post(reverse("admin:usage_quota_add"), quota).status_code == 302
    again = admin_client.post(reverse("admin:usage_quota_add"), quota)
    assert again.status_code == 200, "a second default is refused in the form, not by a 500"
    assert Quota.objects.count() == 1
    missing = admin_client.post(reverse("admin:usage_quota_add"), {**quota, "user": alice.pk, "measure": "cost"})
    assert "A limit in cost needs a cost limit." in missing.content.decode()

    admin_client.post(reverse("admin:usage_quotatopup_add"), {"user": alice.pk, "tokens": "1000", "cost": "0"})
    top_up = QuotaTopUp.objects.get()
    assert top_up.granted_by.username == "root"
    assert usage.status_for(alice).limit == 51000
