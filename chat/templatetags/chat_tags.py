import uuid
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from chat.models import Conversation
from chat.rendering import render_markdown

register = template.Library()

# The sidebar lists this many conversations; search (the search app, its box at the top) finds the rest.
SIDEBAR_LIMIT = 200


@register.filter
def markdown(text: str) -> SafeString:
    """Model text as sanitized HTML: the output of chat.rendering is safe by construction."""
    return mark_safe(render_markdown(text))  # noqa: S308


@register.filter
def is_in(value: Any, container: Any) -> bool:
    return value in container


@register.simple_tag
def new_client_id() -> str:
    """A fresh id for one submit of a form that starts a reply (see Message.client_id)."""
    return uuid.uuid4().hex


@register.inclusion_tag("chat/_sidebar.html", takes_context=True)
def conversation_sidebar(context: template.Context) -> dict[str, Any]:
    """The signed-in user's conversations, pinned first."""
    request = context["request"]
    conversations = Conversation.objects.for_user(request.user).listed().only("pk", "title", "pinned", "updated_at")
    current = context.get("conversation")
    return {
        "conversations": conversations[:SIDEBAR_LIMIT],
        "current_pk": getattr(current, "pk", None),
    }
