from django import template
from django.utils.safestring import SafeString, mark_safe

from chat.rendering import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """Model text as sanitized HTML: the output of chat.rendering is safe by construction."""
    return mark_safe(render_markdown(text))  # noqa: S308
