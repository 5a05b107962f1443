from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AitreConfig(AppConfig):
    name = "aitre"
    verbose_name = _("API")
    default_auto_field = "django.db.models.BigAutoField"
