from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SharingConfig(AppConfig):
    """Read-only snapshots of a conversation at unguessable links."""

    name = "sharing"
    verbose_name = _("Share links")
    default_auto_field = "django.db.models.BigAutoField"
