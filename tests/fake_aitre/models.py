"""GET /v1/models: the models the key may use."""

from typing import TYPE_CHECKING, Any

from .state import Recorded

if TYPE_CHECKING:
    from .server import Handler


def listing(handler: "Handler", body: Any, record: Recorded) -> None:
    state = handler.server.state
    if state.list_status == 401:
        handler._error(401, "Incorrect API key provided.", "invalid_api_key")
        return
    if state.list_status:
        handler._error(state.list_status, "The server had an error.", "server_error")
        return
    data = state.model_entries
    if data is None:
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "aitre"} for m in state.models]
    handler._send_json(200, {"object": "list", "data": data})


def props(handler: "Handler", body: Any, record: Recorded) -> None:
    """llama.cpp's server properties: the context it was started with."""
    if handler.server.state.props is None:
        handler._error(404, "File Not Found", "not_found")
        return
    handler._send_json(200, handler.server.state.props)
