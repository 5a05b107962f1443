"""
POST /v1/embeddings: many texts in one call, one vector each, in the order
given (the answer's ``index`` says which is which; it is not trusted to be
sorted). Vectors come back as float32 arrays: that is how they are kept.
"""

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from .base import BaseClient
from .chat import Usage
from .errors import AitreError

# §6: at most 2,048 inputs a call, none empty, each at most 8,192 tokens.
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192


@dataclass
class Embedded:
    vectors: list[np.ndarray]
    model: str
    usage: Usage | None


def _vector(item: Any) -> np.ndarray:
    raw = item.get("embedding") if isinstance(item, dict) else None
    if isinstance(raw, str):  # encoding_format "base64": little-endian float32
        try:
            return np.frombuffer(base64.b64decode(raw, validate=True), dtype="<f4").astype(np.float32)
        except (binascii.Error, ValueError) as exc:
            raise AitreError(_("The API sent data the site could not read.")) from exc
    if not isinstance(raw, list) or not raw:
        raise AitreError(_("The API sent data the site could not read."), detail="an embedding is not a list")
    try:
        return np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise AitreError(_("The API sent data the site could not read.")) from exc


class EmbeddingEndpoints(BaseClient):
    def embed(self, model: str, inputs: list[str], *, dimensions: int | None = None) -> Embedded:
        if not inputs or len(inputs) > MAX_INPUTS or any(not text for text in inputs):
            raise ValueError("embed() takes 1 to 2,048 texts, none empty")
        body: dict[str, Any] = {"model": model, "input": inputs}
        if dimensions:
            body["dimensions"] = dimensions
        data = self._json(self._request("POST", "/v1/embeddings", json_body=body))
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or len(items) != len(inputs):
            raise AitreError(
                _("The API sent data the site could not read."),
                detail=f"{len(items) if isinstance(items, list) else 'no'} embeddings for {len(inputs)} inputs",
            )
        ordered: list[np.ndarray | None] = [None] * len(inputs)
        for position, item in enumerate(items):
            index = item.get("index", position) if isinstance(item, dict) else position
            if not isinstance(index, int) or not 0 <= index < len(inputs) or ordered[index] is not None:
                raise AitreError(_("The API sent data the site could not read."), detail="bad embedding index")
            ordered[index] = _vector(item)
        vectors = [v for v in ordered if v is not None]
        if len({v.shape for v in vectors}) != 1:
            raise AitreError(_("The API sent data the site could not read."), detail="vectors of different lengths")
        return Embedded(vectors=vectors, model=str(data.get("model") or model), usage=Usage.from_api(data.get("usage")))
