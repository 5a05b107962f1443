"""
POST /v1/images/generations as the API document's §7 describes it, with
each family's validation and answer shape:

- ``gpt-image-1``: always ``b64_json`` (``response_format`` is refused), usage in tokens;
- ``dall-e-3``: ``n`` must be 1; ``url`` by default, ``b64_json`` when asked; a revised prompt;
- Flux (any ``flux*`` model): a prompt of at most 1,000 characters, answered with URLs.

Scenarios (``server.script(...)``, shared with chat): ``policy`` (a content
policy refusal, 400), ``429`` (with Retry-After), ``500``, ``empty`` (a 200
with no image), ``expired`` (URLs that have already expired), ``slow``
(answers after ``state.image_delay`` seconds).
"""

import base64
import time
from typing import TYPE_CHECKING, Any

from . import pictures
from .chat import scenario_of
from .state import Recorded

if TYPE_CHECKING:
    from .server import Handler

SIZES = {
    "gpt-image": {"auto", "1024x1024", "1536x1024", "1024x1536"},
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
}


def _family(model: str) -> str:
    if "gpt-image" in model:
        return "gpt-image"
    if "dall-e-3" in model:
        return "dall-e-3"
    return "flux" if "flux" in model else "other"


def _invalid(body: dict[str, Any], family: str) -> str:
    prompt, n = body.get("prompt"), body.get("n", 1)
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    if not isinstance(n, int) or n < 1 or n > 10:
        return "n must be between 1 and 10"
    if family == "dall-e-3" and n != 1:
        return "You requested 2 images, but dall-e-3 only supports n=1."
    if family == "gpt-image" and "response_format" in body:
        return "Unknown parameter: 'response_format'."
    if family == "flux" and len(prompt) > 1000:
        return "prompt must be at most 1000 characters"
    if family in SIZES and "size" in body and body["size"] not in SIZES[family]:
        return f"Invalid size '{body['size']}'."
    if family == "dall-e-3" and body.get("quality", "standard") not in ("standard", "hd"):
        return "Invalid quality."
    if family != "dall-e-3" and "style" in body:
        return "Unknown parameter: 'style'."
    if family != "gpt-image" and ("background" in body or "output_format" in body):
        return "Unknown parameter."
    return ""


def generations(handler: "Handler", body: dict[str, Any], record: Recorded) -> None:
    scenario = scenario_of(handler, body)
    model = str(body.get("model") or "")
    family = _family(model)
    errors = {
        "policy": (
            400,
            "Your request was rejected as a result of our safety system. Your prompt may contain text that is not "
            "allowed by our safety system.",
            "content_policy_violation",
            {},
        ),
        "429": (429, "Rate limit reached for images per minute.", "rate_limit_exceeded", {"Retry-After": "20"}),
        "500": (500, "The server had an error while processing your request.", "server_error", {}),
    }
    if scenario in errors:
        status, message, code, headers = errors[scenario]
        handler._error(status, message, code, headers)
        return
    problem = _invalid(body, family)
    if problem:
        handler._error(400, problem, "invalid_request_error")
        return
    state = handler.server.state
    if scenario == "slow":
        time.sleep(state.image_delay)
    count = int(body.get("n") or 1)
    fmt = {"jpeg": "jpg", "webp": "webp"}.get(str(body.get("output_format") or ""), "png")
    data = []
    for index in range(count):
        name = f"img{len(state.requests)}-{index}"
        wants_b64 = family == "gpt-image" or body.get("response_format") == "b64_json"
        item: dict[str, Any] = (
            {"b64_json": base64.b64encode(pictures.draw(name, fmt, (64, 64))).decode()}
            if wants_b64 and scenario != "expired"
            else {"url": pictures.url_for(handler, f"{name}.{fmt}", -60 if scenario == "expired" else 3600)}
        )
        if family == "dall-e-3":
            item["revised_prompt"] = f"A detailed rendering of: {body['prompt']}"
        data.append(item)
    answer: dict[str, Any] = {"created": int(time.time()), "data": [] if scenario == "empty" else data}
    if family == "gpt-image":
        answer["usage"] = {"input_tokens": 12, "output_tokens": 272 * count, "total_tokens": 12 + 272 * count}
    handler._send_json(200, answer)
