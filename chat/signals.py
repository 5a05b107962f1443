"""
What chat tells the features that read its messages (search), without
knowing them: ``message_written`` is sent when a message's text is final (a
question sent or edited, a reply finished or stopped), inside the
transaction that wrote it, with ``message``. Receivers act on commit.
"""

from django.dispatch import Signal

message_written = Signal()
