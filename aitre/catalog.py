"""
The models offered to users for each capability: the live list from the API,
filtered by the admin's model settings.

A model the API lists is offered while its setting is ticked and has the
capability asked for; a model the admin added by hand (not ``discovered``)
is offered even when the API does not list it. Models first seen in the list
get a setting then (``ModelSetting.objects.discover``), so every listed model
has one, and the admin sees it in the admin.
"""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from .capabilities import Capability
from .client import AitreError
from .credentials import client_for, endpoint_for
from .models import ModelSetting

logger = logging.getLogger(__name__)

# A failed fetch is remembered this long, so a down API does not slow every page.
FAILED_LIST_SECONDS = 30


def _live_model_ids(user: Any) -> list[str]:
    endpoint = base_url, key = endpoint_for(user)
    # A digest, not the key: cache keys can be read by whoever reads the cache.
    cache_key = "models:" + hashlib.sha256(f"{base_url}\0{key}".encode()).hexdigest()[:24]
    ids = cache.get(cache_key)
    if ids is None:
        try:
            ids = [model.id for model in client_for(user, endpoint).list_models()]
        except AitreError as exc:
            logger.warning("Could not list models: %s", exc.detail or exc.message)
            cache.set(cache_key, [], FAILED_LIST_SECONDS)
            return []
        ModelSetting.objects.discover(ids)
        cache.set(cache_key, ids, settings.AITRE_MODELS_CACHE_SECONDS)
    return list(ids)


def offered_models(user: Any, capability: str = Capability.CHAT) -> list[str]:
    """The names of the models ``user`` may pick for ``capability``, sorted."""
    live = _live_model_ids(user)
    choices = {s.name: s for s in ModelSetting.objects.all()}
    names = {name for name in live if name not in choices or (choices[name].offered and choices[name].can(capability))}
    names |= {
        name for name, choice in choices.items() if choice.offered and not choice.discovered and choice.can(capability)
    }
    if capability == Capability.CHAT:
        names.add(default_model_name(choices))
    return sorted(names)


def default_model_name(choices: dict[str, ModelSetting] | None = None) -> str:
    if choices is None:
        choices = {s.name: s for s in ModelSetting.objects.filter(is_default=True)}
    for choice in choices.values():
        if choice.is_default:
            return choice.name
    return str(settings.AITRE_DEFAULT_MODEL)


def setting_for(model: str) -> ModelSetting:
    """The admin's settings for a model, or the site defaults."""
    return ModelSetting.objects.filter(name=model).first() or ModelSetting(name=model)
