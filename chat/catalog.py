"""The models offered to users: the live list from the API, filtered by the admin's choices."""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from .aitre import AitreError
from .credentials import client_for, endpoint_for
from .models import ModelSetting

logger = logging.getLogger(__name__)


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
            ids = []
            # A short negative cache so a down API does not slow every page.
            cache.set(cache_key, ids, 30)
            return ids
        cache.set(cache_key, ids, settings.AITRE_MODELS_CACHE_SECONDS)
    return list(ids)


def offered_models(user: Any) -> list[str]:
    choices = {s.name: s for s in ModelSetting.objects.all()}
    names = {name for name in _live_model_ids(user) if name not in choices or choices[name].offered}
    names |= {name for name, choice in choices.items() if choice.offered}
    names.add(default_model_name(choices))
    return sorted(names)


def default_model_name(choices: dict[str, ModelSetting] | None = None) -> str:
    if choices is None:
        choices = {s.name: s for s in ModelSetting.objects.filter(is_default=True)}
    for choice in choices.values():
        if choice.is_default:
            return choice.name
    return settings.AITRE_DEFAULT_MODEL


def setting_for(model: str) -> ModelSetting:
    """The admin's settings for a model, or the site defaults."""
    return ModelSetting.objects.filter(name=model).first() or ModelSetting(name=model)
