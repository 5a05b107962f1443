"""
The Midjourney proxy (the API document's §10): work is submitted, a task id
comes back, and the task is fetched until it ends.

A submit answers 200 with its own result ``code`` (1 accepted, 22 queued,
21 waiting for a modal's input; 23, 24, 4, 3 and others refused): the
client reads it into a ``Submitted`` and leaves the meaning to the caller.
Task ids are 16-digit numbers, kept as strings (they lose digits as
JavaScript numbers). A task the gateway does not know comes back as a 404,
an empty body or ``null``: all three are ``None``.
"""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from .base import BaseClient
from .errors import AitreError

# §11: "MJ submit 30 s, MJ fetch 15 s".
SUBMIT_READ_TIMEOUT = 30.0
FETCH_READ_TIMEOUT = 15.0

SUBMIT_PATHS = {
    "imagine": "/mj/submit/imagine",
    "action": "/mj/submit/action",
    "modal": "/mj/submit/modal",
    "blend": "/mj/submit/blend",
    "describe": "/mj/submit/describe",
    "shorten": "/mj/submit/shorten",
}


class Code:
    SUBMITTED = 1
    MODAL = 21
    QUEUED = 22
    QUEUE_FULL = 23
    BANNED = 24
    NOT_FOUND = 3
    INVALID = 4
    FAILED = 9


@dataclass(frozen=True)
class Submitted:
    """A submit's answer: its code, the gateway's words, the task id (a string) and the extras."""

    code: int
    description: str = ""
    task_id: str = ""
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.code in (Code.SUBMITTED, Code.QUEUED, Code.MODAL) and bool(self.task_id)


@dataclass(frozen=True)
class Button:
    custom_id: str
    label: str = ""
    emoji: str = ""
    style: int = 0


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def task_id_of(value: Any) -> str:
    """A task id as the string it is, however it came (a bare number loses nothing in Python)."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float):
        return str(int(value))
    return str(value).strip()


def buttons_of(items: Any) -> list[Button]:
    if not isinstance(items, list):
        return []
    buttons = []
    for item in items:
        if isinstance(item, dict) and item.get("customId"):
            buttons.append(
                Button(
                    custom_id=str(item["customId"]),
                    label=_text(item.get("label")),
                    emoji=_text(item.get("emoji")),
                    style=int(item.get("style") or 0) if str(item.get("style") or "0").isdigit() else 0,
                )
            )
    return buttons


@dataclass(frozen=True)
class FetchedTask:
    """A task as the gateway describes it now (§10.8); every field may be missing."""

    id: str
    action: str = ""
    status: str = ""
    progress: int = 0
    prompt: str = ""
    prompt_en: str = ""
    description: str = ""
    image_url: str = ""
    fail_reason: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    buttons: list[Button] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FetchedTask":
        progress = _text(data.get("progress")).strip().rstrip("%")
        properties = data.get("properties")
        return cls(
            id=task_id_of(data.get("id")),
            action=_text(data.get("action")).upper(),
            status=_text(data.get("status")).upper(),
            progress=max(0, min(100, int(float(progress)))) if progress.replace(".", "", 1).isdigit() else 0,
            prompt=_text(data.get("prompt")),
            prompt_en=_text(data.get("promptEn")),
            description=_text(data.get("description")),
            image_url=_text(data.get("imageUrl")),
            fail_reason=_text(data.get("failReason")),
            properties=properties if isinstance(properties, dict) else {},
            buttons=buttons_of(data.get("buttons")),
        )


class MidjourneyEndpoints(BaseClient):
    def mj_submit(self, kind: str, body: dict[str, Any]) -> Submitted:
        """
        One submit. A request whose answer was lost raises an ``AitreError``
        with ``unanswered`` set: the task may exist, and be billed.
        """
        response = self._request("POST", SUBMIT_PATHS[kind], json_body=body, read_timeout=SUBMIT_READ_TIMEOUT)
        with response:
            data = self._json(response)
        if not isinstance(data, dict) or "code" not in data:
            raise AitreError(_("The Midjourney gateway sent an answer the site could not read."), unanswered=True)
        try:
            code = int(data["code"])
        except (TypeError, ValueError) as exc:
            raise AitreError(_("The Midjourney gateway sent an answer the site could not read.")) from exc
        properties = data.get("properties")
        return Submitted(
            code=code,
            description=_text(data.get("description"))[:500],
            task_id=task_id_of(data.get("result")),
            properties=properties if isinstance(properties, dict) else {},
        )

    def mj_fetch(self, task_id: str) -> FetchedTask | None:
        """The task now, or None when the gateway does not know it (a 404, an empty body or ``null``)."""
        try:
            response = self._request("GET", f"/mj/task/{task_id}/fetch", read_timeout=FETCH_READ_TIMEOUT)
        except AitreError as exc:
            if exc.status == 404:
                return None
            raise
        with response:
            if not response.content.strip():
                return None
            data = self._json(response)
        if data is None:
            return None
        if not isinstance(data, dict):
            raise AitreError(_("The Midjourney gateway sent an answer the site could not read."))
        task = FetchedTask.from_json(data)
        return task if task.id or task.status else None
