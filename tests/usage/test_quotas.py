"""Quotas: refused plainly, top-ups, limits in cost, calls in flight, and races."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aitre.models import ModelSetting
from chat.models import Conversation, Message
from tests.helpers import run_concurrently, wait_for
from tests.usage.helpers import JSON, price_mini, record, send
from usage import quotas as usage
from usage.models import Quota, QuotaTopUp, UsageRecord


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


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0.009", "0.009 USD"),
        ("0.12", "0.12 USD"),
        ("0.005000", "0.005 USD"),
        ("0.000300", "0.0003 USD"),
        ("0", "0.00 USD"),
        ("1234.5", "1,234.50 USD"),
    ],
)
def test_money_has_one_format_cents_and_the_digits_that_are_not_zero(amount, shown):
    """Side by side, "0.009000 USD" next to "0.12 USD" and "0.03 USD used of 0.005000 USD" read as two formats."""
    assert usage.format_money(Decimal(amount)) == shown


def test_a_refusal_does_not_speak_of_a_message_where_there_is_none(alice):
    Quota.objects.create(user=alice, measure=Quota.Measure.COST, period=Quota.Period.MONTH, cost_limit="0.005")
    record(alice, tokens=(1, 1))
    UsageRecord.objects.update(cost=Decimal("0.03"))
    from usage.models import UsageDay

    UsageDay.objects.update(cost=Decimal("0.03"))
    with pytest.raises(usage.QuotaExceeded) as refused:
        usage.admit(alice)
    assert "0.03 USD used of 0.005 USD" in str(refused.value)
    assert "message" not in str(refused.value)
