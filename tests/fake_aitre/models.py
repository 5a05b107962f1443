"""GET /v1/models: the models the key may use."""

from typing import TYPE_CHECKING, Any

from .state import Recorded

if TYPE_CHECKING:
    from .server import Handler


def listing(handler: "Handler", body: Any, record: Recorded) -> None:
    data = [
        {"id": m, "object": "model", "created": 1700000000, "owned_by": "aitre"} for m in handler.server.state.models
    ]
    handler._send_json(200, {"object": "list", "data": data})
