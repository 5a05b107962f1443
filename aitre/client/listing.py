"""
GET /v1/models: the models this key may use, and what the server says of
their limits.

OpenAI lists ids only; other servers add a model's context in their own
shape, read here in one place:

- vLLM: ``max_model_len``;
- OpenRouter, Together and most gateways: ``context_length`` (OpenRouter also
  ``top_provider.context_length`` and ``top_provider.max_completion_tokens``);
- LM Studio: ``max_context_length``; some gateways ``context_window``;
- llama.cpp: ``meta.n_ctx_train`` (what the model was trained for), and the
  context the server was really started with in ``GET /props``
  (``default_generation_settings.n_ctx``), asked only of a llama.cpp server.
"""

from dataclasses import dataclass
from typing import Any

from .base import BaseClient
from .errors import AitreError

_CONTEXT_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window")
_OUTPUT_KEYS = ("max_completion_tokens", "max_output_tokens")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    owned_by: str = ""
    # What the server says, or None: the admin's settings and the site defaults apply.
    context_tokens: int | None = None
    max_output_tokens: int | None = None


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        if (number := _positive(data.get(key))) is not None:
            return number
    return None


def _model_info(item: dict[str, Any]) -> ModelInfo:
    top: dict[str, Any] = item["top_provider"] if isinstance(item.get("top_provider"), dict) else {}
    meta: dict[str, Any] = item["meta"] if isinstance(item.get("meta"), dict) else {}
    context = _first(item, _CONTEXT_KEYS) or _first(top, ("context_length",)) or _first(meta, ("n_ctx", "n_ctx_train"))
    output = _first(item, _OUTPUT_KEYS) or _first(top, ("max_completion_tokens",))
    return ModelInfo(str(item["id"]), str(item.get("owned_by") or ""), context, output)


def _is_llama_cpp(items: list[Any]) -> bool:
    return any(isinstance(item, dict) and (item.get("owned_by") == "llamacpp" or "meta" in item) for item in items)


class ModelListing(BaseClient):
    def list_models(self) -> list[ModelInfo]:
        data = self._json(self._request("GET", "/v1/models", read_timeout=15))
        items = (data.get("data") if isinstance(data, dict) else data) or []
        models: dict[str, ModelInfo] = {}
        for item in items:
            if isinstance(item, dict) and item.get("id"):
                info = _model_info(item)
                models[info.id] = info
            elif isinstance(item, str):
                models[item] = ModelInfo(item)
        if _is_llama_cpp(items) and (served := self._llama_cpp_context()):
            # The server's own context can be smaller than the model's; it is the one that counts.
            models = {
                name: ModelInfo(
                    info.id,
                    info.owned_by,
                    min(served, info.context_tokens or served),
                    info.max_output_tokens,
                )
                for name, info in models.items()
            }
        return sorted(models.values(), key=lambda m: m.id)

    def _llama_cpp_context(self) -> int | None:
        try:
            props = self._json(self._request("GET", "/props", read_timeout=15))
        except AitreError:
            return None  # an older server, or a proxy in front of it: the model's own figure stands
        if not isinstance(props, dict):
            return None
        settings = props.get("default_generation_settings")
        return _first(settings if isinstance(settings, dict) else {}, ("n_ctx",)) or _first(props, ("n_ctx",))
