from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlaygroundConfig(AppConfig):
    name = "playground"
    verbose_name = _("Completions playground")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from usage.quotas import count_in_flight

        from . import completing

        count_in_flight(completing.in_flight)
