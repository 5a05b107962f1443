import uuid
from decimal import Decimal
from typing import Any

from django import template
from django.utils import formats
from django.utils.safestring import SafeString, mark_safe

from chat.rendering import render_markdown
from chat.usage import format_money

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """Model text as sanitized HTML: the output of chat.rendering is safe by construction."""
    return mark_safe(render_markdown(text))  # noqa: S308


@register.filter
def money(amount: Decimal | None) -> str:
    """An amount in USAGE_CURRENCY; None (no price) reads "unpriced", never as free."""
    return format_money(amount)


@register.filter
def tokens(count: int | None) -> str:
    return formats.number_format(count or 0, force_grouping=True)


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, key)


@register.simple_tag
def new_client_id() -> str:
    """A fresh id for one submit of a form that starts a reply (see Message.client_id)."""
    return uuid.uuid4().hex
