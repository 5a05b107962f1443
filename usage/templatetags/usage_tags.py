from decimal import Decimal
from typing import Any

from django import template
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

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


@register.simple_tag
def estimated_note(estimated: int | None, calls: int | None) -> str:
    """
    Beside a sum: how many of its calls were counted by the site because the
    server reported no usage. Nothing when none were.
    """
    if not estimated:
        return ""
    if estimated == calls:
        text = ngettext("estimated (%(count)s call)", "all estimated (%(count)s calls)", estimated) % {
            "count": formats.number_format(estimated, force_grouping=True)
        }
    else:
        text = ngettext(
            "%(count)s of %(calls)s call estimated", "%(count)s of %(calls)s calls estimated", calls or 0
        ) % {
            "count": formats.number_format(estimated, force_grouping=True),
            "calls": formats.number_format(calls or 0, force_grouping=True),
        }
    title = gettext("The server reported no usage for these calls: the site counted their tokens itself.")
    return format_html(' <span class="estimated-note muted small" title="{}">≈ {}</span>', title, text)
