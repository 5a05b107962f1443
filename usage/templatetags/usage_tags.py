from decimal import Decimal
from typing import Any

from django import template
from django.utils import formats

from usage.quotas import format_money

register = template.Library()


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
