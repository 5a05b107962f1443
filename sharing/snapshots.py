"""
What a share link shows, taken once when it is made, and the copy a visitor
takes with "Continue this chat".

A snapshot is the path of versions on show at that moment, each message as
the thread renders it: a reply's HTML from the same sanitizer (its stored
``rendered``, or rendered now), a question's text escaped. No usage, cost,
timing or settings; the system prompt only when the owner chose to include
it; pictures are counted, not shared (they are private files).
"""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.html import escape, linebreaks

from accounts.models import User
from chat.models import Conversation, Message
from chat.rendering import render_markdown
from chat.threads import finished_on_show

from .models import ShareLink


def take(conversation: Conversation) -> list[dict[str, Any]]:
    return [
        {
            "role": m.role,
            "model": m.model if m.role == Message.Role.ASSISTANT else "",
            "content": m.content,
            "html": (m.rendered or render_markdown(m.content))
            if m.role == Message.Role.ASSISTANT
            else linebreaks(escape(m.content)),
            "pictures": sum(1 for part in m.parts or [] if part.get("file")),
            "created_at": m.created_at.isoformat(),
        }
        for m in finished_on_show(conversation)
    ]


def share(conversation: Conversation, *, audience: str, expires_in: str, include_system_prompt: bool) -> ShareLink:
    link = ShareLink(
        owner=conversation.owner,
        conversation=conversation,
        title=conversation.display_title,
        model=conversation.model,
        snapshot=take(conversation),
        system_prompt=conversation.system_prompt if include_system_prompt else "",
        audience=audience,
    )
    link.expire_in(expires_in)
    link.save()
    return link


def continue_as(link: ShareLink, user: User) -> Conversation:
    """The shared messages as a new conversation of ``user``'s, to go on from; nothing of the owner's usage."""
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            owner=user,
            title=link.title,
            model=link.model,
            system_prompt=link.system_prompt,
            created_at=now,
            updated_at=now,
        )
        parent = None
        for item in link.snapshot:
            assistant = item["role"] == Message.Role.ASSISTANT
            parent = Message.objects.create(
                conversation=conversation,
                parent=parent,
                role=item["role"],
                content=item["content"],
                rendered=item["html"] if assistant else "",
                model=item["model"],
                status=Message.Status.COMPLETE,
            )
        conversation.current_leaf = parent
        conversation.save(update_fields=["current_leaf"])
    return conversation
