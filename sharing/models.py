import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User


def new_token() -> str:
    # 192 random bits: a link cannot be guessed or enumerated.
    return secrets.token_urlsafe(24)


class ShareLinkQuerySet(models.QuerySet["ShareLink"]):
    def for_user(self, user: User) -> "ShareLinkQuerySet":
        return self.filter(owner=user)

    def open(self) -> "ShareLinkQuerySet":
        """Links that still show their page: not revoked, not expired."""
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class ShareLink(models.Model):
    """
    A conversation as it was when shared: the versions on show then, each
    message's sanitized HTML kept in ``snapshot`` (sharing.snapshots), so
    later messages never leak and the page never needs the conversation.
    """

    class Audience(models.TextChoices):
        ANYONE = "anyone", _("Anyone with the link")
        SIGNED_IN = "signed_in", _("Only people signed in to this site")

    EXPIRY_CHOICES = [
        ("", _("Never")),
        ("1", _("In 1 day")),
        ("7", _("In 7 days")),
        ("30", _("In 30 days")),
    ]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links")
    # Deleting a conversation takes its links down with it.
    conversation = models.ForeignKey("chat.Conversation", on_delete=models.CASCADE, related_name="share_links")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    title = models.CharField(_("title"), max_length=200)
    model = models.CharField(_("model"), max_length=200)
    snapshot = models.JSONField(_("messages shared"), default=list, editable=False)
    system_prompt = models.TextField(_("system prompt shared"), blank=True)
    audience = models.CharField(_("who can open it"), max_length=16, choices=Audience.choices, default=Audience.ANYONE)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    views = models.PositiveIntegerField(_("views"), default=0)
    last_viewed_at = models.DateTimeField(_("last viewed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        verbose_name = _("share link")
        verbose_name_plural = _("share links")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        # Never the title (made of message text): this string shows in the admin.
        return f"{self._meta.verbose_name} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("sharing:shared", args=[self.token])

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_open(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def expire_in(self, days: str) -> None:
        self.expires_at = timezone.now() + timedelta(days=int(days)) if days else None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            ShareLink.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=self.revoked_at)

    def count_view(self) -> None:
        ShareLink.objects.filter(pk=self.pk).update(views=F("views") + 1, last_viewed_at=timezone.now())
