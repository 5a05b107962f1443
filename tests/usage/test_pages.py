"""The user's Usage page and the admin's dashboard, CSV, charts and usage admin."""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chat.models import Conversation
from tests.usage.helpers import DASHBOARD, price_mini, record, send
from usage import charts, reports
from usage import quotas as usage
from usage.models import Price, Quota, QuotaTopUp, UsageDay, UsageRecord


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


def test_estimates_are_marked_wherever_a_sum_is_shown(alice_client, admin_client, alice):
    chat = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Local chat")
    record(alice, subject=chat, tokens=(100, 50))
    record(alice, subject=chat, tokens=(400, 80), estimated=True)
    record(alice, subject=chat, tokens=(300, 20), estimated=True)
    page = alice_client.get(reverse("usage:page")).content.decode()
    assert page.count("2 of 3 calls estimated") == 3, "this period, the last 30 days and the chat"
    dashboard = admin_client.get(DASHBOARD).content.decode()
    assert "2 of 3 calls estimated" in dashboard
    drill_down = admin_client.get(DASHBOARD, {"user": "alice"}).content.decode()
    assert drill_down.count("≈ estimated") == 2, "each estimated call in the latest calls"
    # Counted in the day totals as they are written, and the same after a rebuild.
    assert UsageDay.objects.get().estimated_calls == 2
    UsageDay.objects.rebuild()
    assert UsageDay.objects.get().estimated_calls == 2


def test_a_message_says_plainly_that_its_usage_is_estimated(alice_client, fake):
    fake.script("no-usage")
    alice_client.post(reverse("chat:start"), {"text": "Hi"})
    conversation = Conversation.objects.get()
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert "tokens, estimated" in page
    assert "the server reported no usage for this reply" in page
