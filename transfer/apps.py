from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransferConfig(AppConfig):
    """
    Export and import: a conversation or a whole account, out as Markdown,
    JSON or a zip; in from our own JSON or ChatGPT's.
    """

    name = "transfer"
    verbose_name = _("Export and import")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from jobs.registry import register, register_sweep

        from . import archive

        register("transfer", archive.recent_jobs)
        register_sweep("transfer", archive.prune)
