from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import crypto
from .capabilities import guess as guess_capabilities

if TYPE_CHECKING:
    from accounts.models import User

    from .client import ModelInfo

# The longest reply a model's own context leaves room for by default: a
# quarter of it. A small local model with a 2,048-token context would
# otherwise ramble for a minute to the end of it.
DEFAULT_OUTPUT_SHARE = 4
# Replies asked of a model whose context nobody knows (llama-cpp-python's server
# says nothing of it): a modest length, not the site default, which may be most
# of a small context and would run for minutes.
UNKNOWN_CONTEXT_MAX_TOKENS = 1024
# The contexts the big hosted families publish, longest prefix first: OpenAI's list
# (and AITRE's) name no context, and these are not a guess. Any other model's context
# is unknown unless its server or the admin says it.
PUBLISHED_CONTEXTS = (
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo-instruct", 4_096),
    ("gpt-3.5-turbo", 16_385),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude", 200_000),
    ("gemini", 1_048_576),
    ("deepseek", 64_000),
)


def published_context(name: str) -> int | None:
    lowered = name.lower()
    return next((tokens for prefix, tokens in PUBLISHED_CONTEXTS if lowered.startswith(prefix)), None)


# The smallest context servers commonly run (llama-cpp-python's default n_ctx):
# an empty answer to a prompt filling half of it is probably a prompt too long.
SMALLEST_COMMON_CONTEXT = 2048


class CredentialQuerySet(models.QuerySet["Credential"]):
    def site(self) -> "CredentialQuerySet":
        return self.filter(user__isnull=True, is_active=True).order_by("-updated_at")

    def personal(self, user: "User | None") -> "CredentialQuerySet":
        return self.filter(user=user, is_active=True)


class Credential(models.Model):
    """
    An API key, encrypted at rest. With no user it is the site's (base URL +
    key, set by admins); with a user it is that user's personal key, used
    with the site's base URL: users never choose where the server connects.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="credentials"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    base_url = models.URLField(
        _("base URL"), blank=True, help_text=_("For example https://api.example.com, without /v1.")
    )
    encrypted_key = models.TextField(editable=False)
    key_last4 = models.CharField(_("key ends with"), max_length=4, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        db_table = "chat_credential"
        verbose_name = _("API credential")
        verbose_name_plural = _("API credentials")
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(user__isnull=False), name="one_personal_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.name or self.base_url or _('personal key')} ({self.masked_key})"

    def set_key(self, raw_key: str) -> None:
        raw_key = raw_key.strip()
        self.encrypted_key = crypto.encrypt(raw_key)
        self.key_last4 = raw_key[-4:]
        self.updated_at = timezone.now()

    @property
    def key(self) -> str:
        return crypto.decrypt(self.encrypted_key) if self.encrypted_key else ""

    @property
    def masked_key(self) -> str:
        return f"••••{self.key_last4}" if self.key_last4 else "—"


class ModelSettingQuerySet(models.QuerySet["ModelSetting"]):
    def discover(self, listed: Iterable["ModelInfo"]) -> None:
        """
        Give every model the API lists and the site has not seen a setting,
        its capabilities guessed from its name: from then on the admin's
        word, not the name, says what it is offered for. The limits the
        server states are kept up to date on every setting, new or not.
        """
        listed = list(listed)
        known = {s.name: s for s in self.filter(name__in=[m.id for m in listed])}
        new = []
        for info in listed:
            setting = known.get(info.id)
            if setting is None:
                new.append(
                    ModelSetting(
                        name=info.id,
                        discovered=True,
                        capabilities=guess_capabilities(info.id),
                        reported_context_tokens=info.context_tokens,
                        reported_max_output_tokens=info.max_output_tokens,
                    )
                )
            elif (setting.reported_context_tokens, setting.reported_max_output_tokens) != (
                info.context_tokens,
                info.max_output_tokens,
            ):
                self.filter(pk=setting.pk).update(
                    reported_context_tokens=info.context_tokens, reported_max_output_tokens=info.max_output_tokens
                )
        # Two processes may discover the same model at once.
        self.bulk_create(new, ignore_conflicts=True)


class ModelSetting(models.Model):
    """
    Admin choices about one model: what it can do, offered or not, limits,
    the default. Rows are made when a model first appears in the live list
    (``discovered``) or by the admin, for a model the API does not list.
    """

    name = models.CharField(_("model id"), max_length=200, unique=True)
    label = models.CharField(_("display name"), max_length=200, blank=True)
    offered = models.BooleanField(
        _("offered to users"),
        default=True,
        help_text=_(
            "Unticked models are hidden even when the API lists them. Ticked models are offered even when it does not."
        ),
    )
    is_default = models.BooleanField(_("default model"), default=False)
    capabilities = models.JSONField(
        _("capabilities"),
        default=list,
        blank=True,
        help_text=_("What the model is offered for. Guessed from its name when first seen; yours to correct."),
    )
    # Made from the live list, not by the admin: offered only while the API lists it.
    discovered = models.BooleanField(_("found in the API's list"), default=False, editable=False)

    max_tokens = models.PositiveIntegerField(
        _("max output tokens"),
        null=True,
        blank=True,
        help_text=_("Blank: what the server says, else the site default, at most a quarter of the context."),
    )
    context_tokens = models.PositiveIntegerField(
        _("context budget (tokens)"),
        null=True,
        blank=True,
        help_text=_("Blank: what the server says of the model, else the site default."),
    )
    # What the server's model list says (see aitre.client.listing); refreshed with the list.
    reported_context_tokens = models.PositiveIntegerField(_("context (server)"), null=True, blank=True, editable=False)
    reported_max_output_tokens = models.PositiveIntegerField(
        _("max output (server)"), null=True, blank=True, editable=False
    )

    objects = ModelSettingQuerySet.as_manager()

    class Meta:
        db_table = "chat_modelsetting"
        verbose_name = _("model setting")
        verbose_name_plural = _("model settings")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_model")
        ]

    def __str__(self) -> str:
        return self.label or self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and not self.capabilities:
            self.capabilities = guess_capabilities(self.name)
        super().save(*args, **kwargs)

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def context_known(self) -> bool:
        """Whether the admin, the server or the model's maker said how long the model's context is."""
        return bool(self.context_tokens or self.reported_context_tokens or published_context(self.name))

    @property
    def effective_context_tokens(self) -> int:
        """The admin's figure, else the server's, else the maker's, else the site default."""
        return int(
            self.context_tokens
            or self.reported_context_tokens
            or published_context(self.name)
            or settings.AITRE_DEFAULT_CONTEXT_TOKENS
        )

    @property
    def effective_max_tokens(self) -> int:
        """
        The longest reply asked for: the admin's figure, else the server's or
        the site default within a quarter of the context. Always inside the
        context, whoever set it.
        """
        context = self.effective_context_tokens
        if self.max_tokens:
            return max(1, min(self.max_tokens, context - 1))
        limit = self.reported_max_output_tokens or settings.AITRE_DEFAULT_MAX_TOKENS
        if not self.context_known:
            limit = min(limit, UNKNOWN_CONTEXT_MAX_TOKENS)
        return max(1, min(limit, context // DEFAULT_OUTPUT_SHARE))
