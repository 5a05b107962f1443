from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from files.access import others_may_read
        from files.models import StoredFile
        from files.sources import link_origins, when_deleted
        from usage.quotas import count_in_flight

        from . import attachments, generation, privacy

        count_in_flight(generation.in_flight)
        others_may_read(privacy.audited_file_read)
        link_origins([StoredFile.Source.UPLOAD, StoredFile.Source.CHAT], attachments.origin_links)
        when_deleted([StoredFile.Source.UPLOAD, StoredFile.Source.CHAT], attachments.forget_file)
