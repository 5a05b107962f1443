"""The Usage page, the dashboard and the over-quota composer, in Chromium."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.models import User
from chat.models import Conversation
from tests.browser import csp_violations, log_in, send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _usage_history(owner: User, *models: str) -> Conversation:
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from usage.models import Price, UsageRecord

    Price.objects.create(model="gpt-4o-mini", input_price=Decimal("0.15"), output_price=Decimal("0.60"))
    conversation = Conversation.objects.create(owner=owner, model="gpt-4o-mini", title="Quarterly report")
    for day in range(20):
        for model in models:
            UsageRecord.objects.record(
                user=owner,
                kind="chat",
                model=model,
                subject=conversation,
                prompt_tokens=400 + 30 * day,
                completion_tokens=200,
                total_tokens=600 + 30 * day,
                created_at=timezone.now() - timedelta(days=day),
            )
    return conversation


def test_the_usage_page_shows_the_period_the_quota_and_a_real_chart(alice_page, live_server, alice):
    from datetime import timedelta

    from django.utils import timezone

    from usage.models import Quota
    from usage.quotas import period_bounds

    Quota.objects.create(measure="tokens", period="month", token_limit=100_000)
    _usage_history(alice, "gpt-4o-mini")
    # What falls in this month depends on today's date: count it, do not assume it.
    start, _ = period_bounds("month", timezone.now())
    used = sum(600 + 30 * day for day in range(20) if timezone.now() - timedelta(days=day) >= start)
    violations = csp_violations(alice_page)
    alice_page.goto(live_server.url + "/")
    alice_page.click("text=Usage")
    expect(alice_page.locator("h1")).to_have_text("Usage")
    bar = alice_page.locator("progress#quota-bar")
    expect(bar).to_be_visible()
    assert float(bar.get_attribute("value")) == pytest.approx(used / 1000, abs=0.1)
    assert 0 < float(bar.get_attribute("value")) < 100, "a little used shows as a little, never as nothing"
    chart = alice_page.locator("figure.chart svg").first
    box = chart.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 100, "the chart is drawn at a readable size"
    assert chart.locator("rect").count() >= 1
    # Axes and units are text in the picture, not tooltips.
    labels = [label.strip() for label in chart.locator("text").all_text_contents()]
    assert "tokens" in labels and "0" in labels and any(label.endswith("k") for label in labels)
    expect(alice_page.locator("table.data")).to_contain_text("Quarterly report")
    assert not violations and not alice_page.js_errors


def test_an_admin_answers_who_spent_what_from_the_dashboard(page, context, live_server, alice, bob):
    admin = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    conversation = _usage_history(alice, "gpt-4o-mini", "llama-3")
    log_in(context, live_server, admin)
    violations = csp_violations(page)
    page.goto(live_server.url + "/admin/")
    page.click("text=Usage dashboard")
    expect(page.locator("h1")).to_have_text("Usage dashboard")
    page.click("text=last 7 days")
    expect(page.locator("[data-total=call_count]")).to_have_text("14")
    legend = page.locator(".legend").inner_text()
    assert "gpt-4o-mini" in legend and "llama-3" in legend, "the chart is stacked by model"
    expect(page.locator("#by-model")).to_contain_text("unpriced")

    page.locator("#by-user a", has_text="alice").click()
    expect(page).to_have_url(re.compile(r"user=alice"))
    expect(page.locator("#user-conversations")).to_contain_text(f"Conversation #{conversation.pk} of")
    expect(page.locator("#user-conversations")).not_to_contain_text("Quarterly report")
    expect(page.locator("#user-calls tbody tr")).to_have_count(14)

    with page.expect_download() as download:
        page.click("text=Export CSV")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 14, "the CSV holds exactly what the filters show"
    assert not violations and not page.js_errors


def test_over_the_limit_the_composer_says_so_and_keeps_the_text(alice_page, live_server, alice, conversation, fake):
    from usage.models import Quota, UsageRecord

    Quota.objects.create(measure="tokens", period="month", token_limit=1000)
    UsageRecord.objects.record(
        user=alice, kind="chat", model="gpt-4o-mini", prompt_tokens=900, completion_tokens=100, total_tokens=1000
    )
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    expect(alice_page.locator(".quota-notice")).to_contain_text("You have reached your usage limit for this month.")
    send(alice_page, "Please answer anyway")
    error = alice_page.locator(".composer-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("1,000 tokens used of 1,000 tokens")
    expect(error).to_contain_text("It resets on")
    expect(alice_page.locator("#id_text")).to_have_value("Please answer anyway")
    assert alice_page.locator("article.msg").count() == 0
    assert not fake.chat_requests()
