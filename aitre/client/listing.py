"""GET /v1/models: the models this key may use."""

from dataclasses import dataclass

from .base import BaseClient


@dataclass(frozen=True)
class ModelInfo:
    id: str
    owned_by: str = ""


class ModelListing(BaseClient):
    def list_models(self) -> list[ModelInfo]:
        data = self._json(self._request("GET", "/v1/models", read_timeout=15))
        items = data.get("data") if isinstance(data, dict) else data
        models = []
        for item in items or ():
            if isinstance(item, dict) and item.get("id"):
                models.append(ModelInfo(str(item["id"]), str(item.get("owned_by") or "")))
            elif isinstance(item, str):
                models.append(ModelInfo(item))
        return sorted(set(models), key=lambda m: m.id)
