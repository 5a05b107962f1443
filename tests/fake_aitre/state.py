"""What the fake server says by default, and what it records."""

import re
import threading
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REPLY = (
    "Hello! Here is a small example:\n\n"
    '```python\ndef greet(name):\n    return f"Hello, {name}!"\n```\n\n'
    "It returns a **greeting** for `name`."
)
MODELS = [
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4o-image",
    "tts-1",
    "whisper-1",
    "text-embedding-3-large",
    "text-embedding-3-small",
    "gpt-3.5-turbo-instruct",
    "dall-e-3",
    "gpt-image-1",
    "flux-pro",
    "mj_imagine",
]


def tokens_of(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    started: float
    ended: float | None = None
    # When the client went away before the reply was fully sent.
    disconnected: float | None = None
    sent_chunks: int = 0


@dataclass
class FakeState:
    reply: str = DEFAULT_REPLY
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    slow_token_delay: float = 0.0
    # The reply's pieces exactly as sent, when a test needs a server that
    # splits text its own way (a trailing space on each word, say).
    pieces: list[str] | None = None
    models: list[str] = field(default_factory=lambda: list(MODELS))
    # The model list's entries as some servers shape them (context metadata
    # and all), instead of plain ids; and llama.cpp's GET /props.
    model_entries: list[dict[str, Any]] | None = None
    props: dict[str, Any] | None = None
    # The model list fails with this status (a bad key, a server down).
    list_status: int | None = None
    # A server with one model, which answers any asked name with its own.
    serves: str | None = None
    # Count tokens as a real server does (its own vocabulary, see tokens.py),
    # rather than the quick rule the other tests rely on.
    real_counts: bool = False
    # The server's context, and how it answers a prompt over it: "400"
    # (llama.cpp, vLLM), "error-event" (gateways) or "empty" (an empty stream).
    context: int | None = None
    overflow: str = "400"
    queue: list[str] = field(default_factory=list)
    # How many pictures the file host served (see pictures.py), and how long its links last.
    pictures_served: int = 0
    picture_lifetime: float = 3600.0
    # How long the images endpoint's "slow" scenario takes.
    image_delay: float = 2.0
    # What the transcription endpoints hear, and each audio call's delay.
    transcript: str = "What is the capital of France? Answer in one word."
    translation: str = "Hello, my name is Wolfgang and I come from Germany."
    audio_delay: float = 0.0
    # A chat reply holds after this many pieces until the test sets ``hold`` (at most 30 s):
    # a follower is then sure to see the rest arrive as deltas, however slow the machine.
    hold: threading.Event | None = None
    hold_after: int = 3
    # Midjourney (midjourney.py): the gateway's tasks by id, seconds per step of a task,
    # delays, a status every fetch answers with, how unknown ids are answered, callbacks made.
    mj_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    mj_step: float = 0.3
    # When set, no task moves past this step, however long it has run: a test
    # lets a task move one step at a time, each once the page has shown the last.
    mj_steps_allowed: int | None = None
    mj_submit_delay: float = 0.0
    mj_fetch_delay: float = 0.0
    mj_fetch_status: int | None = None
    mj_unknown: str = "404"
    mj_hook_calls: list[dict[str, Any]] = field(default_factory=list)
    # Embeddings (embeddings.py): scenarios for the next calls, one each, and a delay per call.
    embedding_script: list[str] = field(default_factory=list)
    embedding_delay: float = 0.0
    # Legacy completions (completions.py): what every completion says.
    completion: str = " and the lighthouse keeper lit the lamp, as he had done every night for forty years."
    requests: list[Recorded] = field(default_factory=list)
    # The usage objects sent to clients, with the model named: what the API "billed".
    reported: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
