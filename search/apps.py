from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = _("Search")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat.models import Message
        from chat.signals import message_written
        from jobs.registry import register_sweep

        from . import indexing

        def written(sender: Any, message: Message, **kwargs: Any) -> None:
            indexing.written(message)

        message_written.connect(written, sender=Message, weak=False, dispatch_uid="search-written")
        register_sweep("search", indexing.sweep)
