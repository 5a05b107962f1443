"""
The models offered to users for each capability: the live list from the API,
filtered by the admin's model settings.

A model the API lists is offered while its setting is ticked and has the
capability asked for; a model the admin added by hand (not ``discovered``)
is offered even when the API does not list it. Nothing else is: the site's
``AITRE_DEFAULT_MODEL`` is only a preference among those, so a server that
has none of OpenAI's models is never asked for one. Models first seen in the
list get a setting then (``ModelSetting.objects.discover``), with the limits
the server states, so the admin sees every listed model in the admin.

When the list cannot be fetched (a bad key, the server down), ``Listing.problem``
says why, and the picker and the admin say so rather than quietly showing
a shorter list.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from .capabilities import Capability
from .capabilities import guess as guess_capabilities
from .client import AitreError
from .credentials import client_for, endpoint_for, site_endpoint
from .models import ModelSetting

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# A failed fetch is remembered this long, so a down API does not slow every page.
FAILED_LIST_SECONDS = 30


@dataclass(frozen=True)
class Listing:
    """The ids the API listed, or why it could not list them."""

    ids: tuple[str, ...] = ()
    problem: str = ""


@dataclass(frozen=True)
class Offer:
    """What a picker shows: (model id, display name) pairs, the one pre-selected, and any problem."""

    choices: list[tuple[str, str]] = field(default_factory=list)
    default: str = ""
    problem: str = ""
    # Those of the choices that take images (the vision capability).
    seeing: frozenset[str] = frozenset()

    @property
    def names(self) -> list[str]:
        return [name for name, _label in self.choices]


def listing(user: "User | None" = None) -> Listing:
    """The live list for ``user``'s key (their own, or the site's); with no user, the site's."""
    endpoint = base_url, key = endpoint_for(user) if user is not None else site_endpoint()
    # A digest, not the key: cache keys can be read by whoever reads the cache.
    cache_key = "models:" + hashlib.sha256(f"{base_url}\0{key}".encode()).hexdigest()[:24]
    cached = cache.get(cache_key)
    if isinstance(cached, dict):
        return Listing(tuple(cached["ids"]), cached["problem"])
    try:
        models = client_for(user, endpoint).list_models()
    except AitreError as exc:
        logger.warning("Could not list models: %s", exc.detail or exc.message)
        problem = _("The model list could not be fetched from the API: %(reason)s") % {"reason": exc.message}
        cache.set(cache_key, {"ids": [], "problem": problem}, FAILED_LIST_SECONDS)
        return Listing(problem=problem)
    ModelSetting.objects.discover(models)
    forget_settings()  # discover writes without signals
    ids = [model.id for model in models]
    cache.set(cache_key, {"ids": ids, "problem": ""}, settings.AITRE_MODELS_CACHE_SECONDS)
    return Listing(tuple(ids))


def _offered(live: Listing, choices: dict[str, ModelSetting], capability: str) -> set[str]:
    names = {
        name for name in live.ids if name not in choices or (choices[name].offered and choices[name].can(capability))
    }
    names |= {
        name for name, choice in choices.items() if choice.offered and not choice.discovered and choice.can(capability)
    }
    return names


def offer(user: "User | None", capability: str = Capability.CHAT) -> Offer:
    """What ``user`` may pick for ``capability``, by display name, and the model pre-selected."""
    live = listing(user)
    settings_by_name = {s.name: s for s in ModelSetting.objects.all()}
    names = _offered(live, settings_by_name, capability)

    def label(name: str) -> str:
        setting = settings_by_name.get(name)
        return setting.label if setting is not None and setting.label else name

    choices = sorted(((name, label(name)) for name in names), key=lambda choice: (choice[1].lower(), choice[0]))
    preferred = [s.name for s in settings_by_name.values() if s.is_default]
    preferred.append(str(settings.AITRE_DEFAULT_MODEL))
    default = next((name for name in preferred if name in names), choices[0][0] if choices else "")
    problem = live.problem
    if not problem and not choices:
        # Said up front, by what is missing: a plain OpenAI-compatible server has no Midjourney, no speech.
        problem = _(
            "The API offers no model for %(feature)s, so this cannot be used here. "
            "An administrator can add or enable one in the model settings."
        ) % {"feature": Capability(capability).label}
    seeing = frozenset(
        name for name in names if (s := settings_by_name.get(name)) is not None and s.can(Capability.VISION)
    )
    return Offer(choices, default, problem, seeing)


def offered_models(user: "User | None", capability: str = Capability.CHAT) -> list[str]:
    """The ids of the models ``user`` may pick for ``capability``, sorted."""
    return sorted(offer(user, capability).names)


# A model's setting is read several times for every reply (the fit check,
# the payload, the quota's estimate of replies in flight) and changes rarely:
# each process keeps what it read for a few seconds. A save or delete clears
# this process's copy at once; other processes see it within SETTING_SECONDS.
SETTING_SECONDS = 5.0
_settings: dict[str, tuple[float, ModelSetting]] = {}


def forget_settings() -> None:
    """Drop what this process remembers of model settings (on every save; tests call it too)."""
    _settings.clear()


@receiver([post_save, post_delete], sender=ModelSetting)
def _forget_on_change(**kwargs: Any) -> None:
    forget_settings()


def setting_for(model: str) -> ModelSetting:
    """The admin's settings for a model, or the site defaults. Read-only: shared by every caller."""
    now = time.monotonic()
    remembered = _settings.get(model)
    if remembered is not None and now - remembered[0] < SETTING_SECONDS:
        return remembered[1]
    # A model with no setting yet is taken to be what its name suggests, as it will be once seen.
    setting = ModelSetting.objects.filter(name=model).first() or ModelSetting(
        name=model, capabilities=guess_capabilities(model)
    )
    _settings[model] = (now, setting)
    return setting
