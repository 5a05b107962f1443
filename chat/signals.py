"""
What chat tells the features that read its messages (search), without
knowing them: ``message_written`` is sent when a message's text is final (a
question sent or edited, a reply finished or stopped), inside the
transaction that wrote it, with ``message``. Receivers act on commit.
"""

from django.dispatch import Signal

message_written = Signal()

# Sent by an import once its conversations are written (after the commit),
# with ``owner_id`` and ``conversations``: what a receiver indexes at once,
# rather than on a sweep minutes later.
conversations_imported = Signal()
