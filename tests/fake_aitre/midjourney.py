"""
The Midjourney proxy (§10) as a state machine: submits answer with their
result codes, tasks move NOT_START → SUBMITTED → IN_PROGRESS (progress
moving, a preview image) → SUCCESS or FAILURE as time passes (one step per
``state.mj_step`` seconds), buttons depend on what made the task, ids are
16-digit numbers, result images are served at links that expire.

Scenarios, by a word in the prompt:
- "banned" → code 24 (``bannedWord``); "queue full" → 23; "queued" → 22,
  waiting in the queue a while; "lost answer" → the connection is cut before
  any answer (the task exists all the same, as on a real gateway);
- "stuck" → stays at 10% forever; "fail" → FAILURE with a ``failReason``;
  "cancel" → CANCEL; "vanish" → unknown to fetch from the start;
- "expired link" → the first finished image link has already expired.
Unknown ids are answered as ``state.mj_unknown`` says: "404", "empty" or "null".
Submits with a ``notifyHook`` get callbacks (the task, as fetch gives it) at each step.
"""

import base64
import binascii
import itertools
import json
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from . import pictures
from .state import Recorded

if TYPE_CHECKING:
    from .server import Handler

_ids = itertools.count(1_320_098_173_412_546)
GRID_ACTIONS = ("IMAGINE", "VARIATION", "REROLL", "BLEND", "PAN", "ZOOM", "INPAINT")
# Steps: 0 NOT_START, 1 SUBMITTED, 2..5 IN_PROGRESS at 20..80 %, 6 SUCCESS.
PROGRESS = [0, 0, 20, 40, 60, 80]
DONE_STEP = 6


def _submit_answer(handler: "Handler", code: int, result: Any = None, description: str = "", **properties: Any) -> None:
    handler._send_json(200, {"code": code, "description": description, "properties": properties, "result": result})


def _valid_data_uri(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith("data:image/") or ";base64," not in value:
        return False
    try:
        base64.b64decode(value.split(";base64,", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _new_task(handler: "Handler", action: str, prompt: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    task_id = str(next(_ids))
    task = {
        "id": task_id,
        "action": action,
        "prompt": prompt,
        "promptEn": prompt,
        "description": f"/{action.lower()} {prompt}".strip(),
        "state": body.get("state", ""),
        "hook": body.get("notifyHook") or "",
        "started": time.monotonic(),
        "submitTime": int(time.time() * 1000),
        "expired_links": 1 if "expired link" in prompt else 0,
        "queued_steps": 3 if "queued" in prompt else 0,
        "modal": False,
        **extra,
    }
    with handler.server.state.lock:
        handler.server.state.mj_tasks[task_id] = task
    if task["hook"]:
        threading.Thread(target=_callbacks, args=(handler.server, task_id), daemon=True).start()
    return task


def _step(task: dict[str, Any], state: Any) -> int:
    if task["modal"]:
        return -1
    step = int((time.monotonic() - task["started"]) / state.mj_step) - task["queued_steps"]
    return step if state.mj_steps_allowed is None else min(step, state.mj_steps_allowed)


def _buttons(task: dict[str, Any]) -> list[dict[str, Any]]:
    digest = f"{int(task['id']) % 10**8:08d}-hash"
    action = task["action"]

    def button(custom_id: str, label: str, emoji: str = "", style: int = 2) -> dict[str, Any]:
        return {"customId": custom_id, "label": label, "emoji": emoji, "style": style, "type": 2}

    if action in GRID_ACTIONS:
        return [
            *(button(f"MJ::JOB::upsample::{i}::{digest}", f"U{i}") for i in range(1, 5)),
            button(f"MJ::JOB::reroll::0::{digest}::SOLO", "", "🔄"),
            *(button(f"MJ::JOB::variation::{i}::{digest}", f"V{i}") for i in range(1, 5)),
        ]
    if action == "UPSCALE":
        return [
            button(f"MJ::JOB::high_variation::1::{digest}::SOLO", "Vary (Strong)", "🪄"),
            button(f"MJ::JOB::low_variation::1::{digest}::SOLO", "Vary (Subtle)", "🪄"),
            button(f"MJ::Inpaint::1::{digest}::SOLO", "Vary (Region)", "🖌️"),
            button(f"MJ::Outpaint::50::1::{digest}::SOLO", "Zoom Out 2x", "🔍"),
            button(f"MJ::CustomZoom::{digest}", "Custom Zoom", "🔍"),
            button(f"MJ::JOB::pan_left::1::{digest}::SOLO", "", "⬅️"),
            button(f"MJ::JOB::pan_right::1::{digest}::SOLO", "", "➡️"),
        ]
    if action == "DESCRIBE":
        return [
            *(button(f"MJ::Job::PicReader::{i}", str(i)) for i in range(1, 5)),
            button("MJ::Picread::Retry", "", "🔄"),
        ]
    if action == "SHORTEN":
        return [button(f"MJ::Job::PromptAnalyzer::{i}", str(i)) for i in range(1, 6)]
    return []


def _final_prompt(task: dict[str, Any]) -> str:
    if task["action"] == "DESCRIBE":
        return "\n\n".join(
            f"{n}\ufe0f\u20e3 a quiet harbour at dusk, painted in style number {n} --ar 3:2" for n in range(1, 5)
        )
    if task["action"] == "SHORTEN":
        words = task["prompt"].split()
        return "\n\n".join(f"{n}\ufe0f\u20e3 {' '.join(words[: max(1, len(words) - n)])}" for n in range(1, 6))
    return task["prompt"]


def view(server: Any, task: dict[str, Any]) -> dict[str, Any]:
    """The task as fetch answers it, now."""
    state = server.state
    step = _step(task, state)
    prompt = task["prompt"]
    status, progress, image_url, fail = "NOT_START", 0, "", ""
    base = server.base_url
    if task["modal"]:
        status = "MODAL"
    elif step < 0:
        status = "SUBMITTED"
    elif step == 0:
        status = "NOT_START"
    elif step == 1:
        status = "SUBMITTED"
    elif "stuck" in prompt:
        status, progress = "IN_PROGRESS", 10
    elif "fail" in prompt and step >= 3:
        status, fail = "FAILURE", "Job failed: the picture was flagged by the moderator"
    elif "cancel" in prompt and step >= 3:
        status = "CANCEL"
    elif step < DONE_STEP:
        status, progress = "IN_PROGRESS", PROGRESS[step]
        if step >= 3 and task["action"] not in ("DESCRIBE", "SHORTEN"):
            image_url = f"{base}/fake/pictures/preview-{task['id']}-{step}.png?expires={int(time.time() + 3600)}"
    else:
        status, progress = "SUCCESS", 100
        if task["action"] not in ("DESCRIBE", "SHORTEN"):
            expires = int(time.time() + state.picture_lifetime)
            with state.lock:
                if task["expired_links"]:
                    task["expired_links"] -= 1
                    expires = int(time.time() - 60)
            kind = "grid" if task["action"] in GRID_ACTIONS else "single"
            image_url = f"{base}/fake/pictures/{kind}-{task['id']}.png?expires={expires}"
    return {
        "id": task["id"],
        "action": task["action"],
        "status": status,
        "progress": f"{progress}%",
        "prompt": prompt,
        "promptEn": task["promptEn"],
        "description": task["description"],
        "state": task["state"],
        "submitTime": task["submitTime"],
        "startTime": task["submitTime"] + 1000 if step >= 2 else 0,
        "finishTime": task["submitTime"] + 30000 if status in ("SUCCESS", "FAILURE", "CANCEL") else 0,
        "imageUrl": image_url,
        "failReason": fail,
        "properties": {"finalPrompt": _final_prompt(task) if status == "SUCCESS" else ""},
        "buttons": _buttons(task) if status == "SUCCESS" else [],
    }


def _callbacks(server: Any, task_id: str) -> None:
    """Post the task to its hook at each change, as gateways do, until it ends (bounded: a minute at most)."""
    sent = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task = server.state.mj_tasks.get(task_id)
        if task is None:
            return
        now = view(server, task)
        key = (now["status"], now["progress"])
        if key != sent:
            sent = key
            request = urllib.request.Request(
                task["hook"], data=json.dumps(now).encode(), headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    status = answer.status
            except Exception as exc:
                status = getattr(exc, "code", 0)
            with server.state.lock:
                server.state.mj_hook_calls.append({"task": task_id, "status": now["status"], "answer": status})
            if now["status"] in ("SUCCESS", "FAILURE", "CANCEL"):
                return
        time.sleep(server.state.mj_step / 2)


def _cut(handler: "Handler") -> None:
    """The answer is lost: the connection closes without a byte."""
    handler.close_connection = True
    handler.connection.shutdown(2)


def submit(handler: "Handler", body: dict[str, Any], record: Recorded, kind: str) -> None:
    state = handler.server.state
    if state.mj_submit_delay:
        time.sleep(state.mj_submit_delay)
    prompt = str(body.get("prompt") or "")
    bot = body.get("botType", "MID_JOURNEY")
    if bot not in ("MID_JOURNEY", "NIJI_JOURNEY"):
        return _submit_answer(handler, 4, description="botType is invalid")
    if "queue full" in prompt:
        return _submit_answer(handler, 23, description="队列已满，请稍后尝试")
    if "banned" in prompt:
        return _submit_answer(handler, 24, description="可能包含敏感词", bannedWord="banned")
    images = body.get("base64Array") or []
    if not isinstance(images, list) or not all(_valid_data_uri(i) for i in images):
        return _submit_answer(handler, 4, description="basisImageBase64 format error")
    if kind == "imagine":
        if not prompt:
            return _submit_answer(handler, 4, description="prompt cannot be empty")
        task = _new_task(handler, "IMAGINE", prompt, body)
    elif kind == "blend":
        if not 2 <= len(images) <= 5:
            return _submit_answer(handler, 4, description="base64List parameter error")
        task = _new_task(handler, "BLEND", "", body, dimensions=body.get("dimensions", "SQUARE"))
    elif kind == "describe":
        if not _valid_data_uri(body.get("base64")):
            return _submit_answer(handler, 4, description="base64 cannot be empty")
        task = _new_task(handler, "DESCRIBE", "", body)
    else:
        if not prompt:
            return _submit_answer(handler, 4, description="prompt cannot be empty")
        task = _new_task(handler, "SHORTEN", prompt, body)
    _answer_created(handler, task, prompt)


def _answer_created(handler: "Handler", task: dict[str, Any], prompt: str) -> None:
    if "lost answer" in prompt:
        return _cut(handler)
    if "vanish" in prompt:
        with handler.server.state.lock:
            del handler.server.state.mj_tasks[task["id"]]
    if task["queued_steps"]:
        return _submit_answer(handler, 22, task["id"], "排队中", numberOfQueues=3)
    # AITRE prints the id as a bare number (§10.1).
    _submit_answer(handler, 1, int(task["id"]), "提交成功")


SUBMITS = ("imagine", "blend", "describe", "shorten")


def submitter(kind: str) -> Any:
    return lambda handler, body, record: submit(handler, body, record, kind)


_ACTIONS = [
    ("upsample", "UPSCALE"),
    ("variation", "VARIATION"),
    ("reroll", "REROLL"),
    ("outpaint", "ZOOM"),
    ("customzoom", "ZOOM"),
    ("pan_", "PAN"),
    ("inpaint", "INPAINT"),
    ("picreader", "IMAGINE"),
    ("promptanalyzer", "IMAGINE"),
]


def action(handler: "Handler", body: dict[str, Any], record: Recorded) -> None:
    state = handler.server.state
    parent = state.mj_tasks.get(str(body.get("taskId") or ""))
    if parent is None:
        return _submit_answer(handler, 3, description="关联任务不存在或已失效")
    custom_id = str(body.get("customId") or "")
    if custom_id not in [b["customId"] for b in view(handler.server, parent)["buttons"]]:
        return _submit_answer(handler, 4, description="customId is not a button of this task")
    name = custom_id.lower()
    kind = next((act for marker, act in _ACTIONS if marker in name), "ACTION")
    prompt = parent["prompt"] or "a quiet harbour at dusk"
    if "inpaint" in name or "customzoom" in name:
        task = _new_task(handler, kind, prompt, body, modal=True, needs_mask="inpaint" in name)
        return _submit_answer(handler, 21, task["id"], "Waiting for window confirm", remix=True)
    task = _new_task(handler, kind, prompt, body)
    _answer_created(handler, task, prompt)


def modal(handler: "Handler", body: dict[str, Any], record: Recorded) -> None:
    state = handler.server.state
    task = state.mj_tasks.get(str(body.get("taskId") or ""))
    if task is None or not task["modal"]:
        return _submit_answer(handler, 3, description="task is not waiting for a window")
    if task.get("needs_mask") and not _valid_data_uri(body.get("maskBase64")):
        return _submit_answer(handler, 4, description="maskBase64 is required")
    with state.lock:
        task["modal"] = False
        task["prompt"] = str(body.get("prompt") or task["prompt"])
        task["started"] = time.monotonic()
    _submit_answer(handler, 1, task["id"], "提交成功")


def fetch(handler: "Handler", task_id: str, record: Recorded) -> None:
    state = handler.server.state
    if state.mj_fetch_delay:
        time.sleep(state.mj_fetch_delay)
    if state.mj_fetch_status:
        return handler._error(state.mj_fetch_status, "The gateway is busy", "busy")
    task = state.mj_tasks.get(task_id)
    if task is None:
        if state.mj_unknown == "404":
            return handler._error(404, "task not found", "not_found")
        payload = b"" if state.mj_unknown == "empty" else b"null"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
        return
    handler._send_json(200, view(handler.server, task))


def draw_grid(name: str) -> bytes:
    """A 2×2 grid, each quarter its own colour (so a split can be checked), or one picture."""
    import hashlib
    import io

    from PIL import Image

    size = 256 if name.startswith("grid-") else 128
    image = Image.new("RGB", (size, size))
    half = size // 2
    for index, (left, top) in enumerate([(0, 0), (half, 0), (0, half), (half, half)]):
        digest = hashlib.sha256(f"{name}:{index}".encode()).digest()
        image.paste(tuple(digest[:3]), (left, top, left + half, top + half))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


pictures.SPECIAL_DRAWINGS.update({"grid-": draw_grid, "single-": draw_grid})
