"""
Who may read the text of other people's conversations, and the record of
every time someone did.

Admins see usage and conversation metadata; message text needs the
``chat.read_message_content`` permission granted to the account (or one of
its groups) explicitly. Superuser status alone does not carry it, unlike
every other Django permission: reading people's conversations must be a
decision someone made and can see, not a side effect of running the site.
"""

from django.contrib.auth.models import AnonymousUser, Permission
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from typing_extensions import TypeIs

from accounts.models import User
from files.models import StoredFile

from .models import ContentAccess, Conversation

PERMISSION = "read_message_content"


def can_read_content(user: User | AnonymousUser) -> TypeIs[User]:
    """An active staff member granted the permission to read users' conversations."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    granted = Q(user=user) | Q(group__user=user)
    return Permission.objects.filter(granted, codename=PERMISSION, content_type__app_label="chat").exists()


def record_access(reader: User, conversation: Conversation) -> ContentAccess:
    """Write the audit row; call it before showing the text, never after."""
    return ContentAccess.objects.create(
        reader=reader,
        reader_name=reader.get_username(),
        owner_id=conversation.owner_id,
        conversation=conversation,
        # The number and date, never the title: the log is shown to every admin.
        conversation_title=conversation.neutral_label[:200],
    )


def audited_file_read(reader: User | AnonymousUser, stored: StoredFile) -> bool:
    """
    An admin with the permission may open another user's image (registered
    with files.access in ChatConfig.ready); the opening is recorded first,
    like a reading of their messages.
    """
    if not can_read_content(reader):
        return False
    conversation = None
    if stored.source in (StoredFile.Source.UPLOAD, StoredFile.Source.CHAT) and stored.origin_id:
        conversation = Conversation.objects.filter(pk=stored.origin_id, owner_id=stored.owner_id).first()
    if conversation is not None:
        record_access(reader, conversation)
    else:
        ContentAccess.objects.create(
            reader=reader,
            reader_name=reader.get_username(),
            owner_id=stored.owner_id,
            conversation_title=str(_("An image of %(date)s"))
            % {"date": formats.date_format(timezone.localtime(stored.created_at), "SHORT_DATE_FORMAT")},
        )
    return True
