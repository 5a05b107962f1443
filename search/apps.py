from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = _("Search")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat.models import Conversation, Message
        from chat.signals import conversations_imported, message_written
        from jobs.registry import register_sweep

        from . import indexing

        def written(sender: Any, message: Message, **kwargs: Any) -> None:
            indexing.written(message)

        def imported(sender: Any, owner_id: int, conversations: list[Conversation], **kwargs: Any) -> None:
            indexing.imported(owner_id, conversations)

        message_written.connect(written, sender=Message, weak=False, dispatch_uid="search-written")
        conversations_imported.connect(imported, sender=Conversation, weak=False, dispatch_uid="search-imported")
        register_sweep("search", indexing.sweep)
