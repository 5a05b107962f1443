from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImagesConfig(AppConfig):
    name = "images"
    verbose_name = _("Image studio")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from files.models import StoredFile
        from files.sources import link_origins
        from jobs.registry import register as register_jobs
        from usage.quotas import count_in_flight

        from . import studio

        count_in_flight(studio.in_flight)
        link_origins([StoredFile.Source.STUDIO], studio.origin_links)
        register_jobs("images", studio.recent_jobs)
