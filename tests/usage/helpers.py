"""Small things the usage tests share."""

from decimal import Decimal

from django.test import Client
from django.urls import reverse

from accounts.models import User
from chat.models import Conversation
from usage.models import Price, UsageRecord

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
