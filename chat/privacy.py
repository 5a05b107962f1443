"""
Who may read the text of other people's conversations, and the record of
every time someone did.

Admins see usage and conversation metadata; message text needs the
``chat.read_message_content`` permission granted to the account (or one of
its groups) explicitly. Superuser status alone does not carry it, unlike
every other Django permission: reading people's conversations must be a
decision someone made and can see, not a side effect of running the site.
"""

from typing import Any

from django.contrib.auth.models import Permission
from django.db.models import Q

from .models import ContentAccess, Conversation

PERMISSION = "read_message_content"


def can_read_content(user: Any) -> bool:
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    granted = Q(user=user) | Q(group__user=user)
    return Permission.objects.filter(granted, codename=PERMISSION, content_type__app_label="chat").exists()


def record_access(reader: Any, conversation: Conversation) -> ContentAccess:
    """Write the audit row; call it before showing the text, never after."""
    return ContentAccess.objects.create(
        reader=reader,
        reader_name=reader.get_username(),
        owner_id=conversation.owner_id,
        conversation=conversation,
        # The number and date, never the title: the log is shown to every admin.
        conversation_title=conversation.neutral_label[:200],
    )
