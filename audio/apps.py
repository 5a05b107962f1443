from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AudioConfig(AppConfig):
    name = "audio"
    verbose_name = _("Voice")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat.extensions import Extension, register
        from jobs.registry import register as register_jobs
        from usage.quotas import count_in_flight

        from . import transcripts

        count_in_flight(transcripts.in_flight)
        register_jobs("audio", transcripts.recent_jobs)
        register(
            Extension(
                composer="audio/_dictation.html",
                reply_actions="audio/_read_aloud.html",
                settings_section="audio/_settings.html",
                script="audio/voice.js",
            )
        )
