from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MidjourneyConfig(AppConfig):
    name = "midjourney"
    verbose_name = _("Midjourney")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from files.models import StoredFile
        from files.sources import link_origins
        from jobs.registry import register as register_jobs
        from jobs.registry import register_sweep
        from usage.quotas import count_in_flight

        from . import adapters, sweeping

        count_in_flight(adapters.in_flight)
        link_origins([StoredFile.Source.MIDJOURNEY], adapters.origin_links)
        register_jobs("midjourney", adapters.recent_jobs)
        register_sweep("midjourney", sweeping.sweep)
        register_sweep("midjourney previews", sweeping.discard_old_previews)
