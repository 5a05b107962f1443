"""
POST /v1/embeddings, with vectors that carry meaning, deterministically.

A text's words (and, in Chinese, its characters and their pairs) are mapped
to *concepts* by a small thesaurus written for the tests (``CONCEPTS``):
"automobile", "car" and "汽车" are one concept. Each concept (or a word the
thesaurus does not know) points in a fixed pseudo-random direction, and a
text's vector is the normalized sum of its concepts' directions. So texts
about the same thing are near each other whatever their words, and texts
about different things are nearly orthogonal; the same text always gets the
same vector. Concepts weigh most, unknown words less, lone Chinese characters
least.

It keeps §6's limits (at most 2,048 inputs, none empty, none over 8,192
tokens), takes ``dimensions`` only from ``text-embedding-3*`` models, answers
``encoding_format: base64`` as OpenAI does, and plays these scenarios from
``state.embedding_script`` (one per call): ``429`` (with Retry-After: 1),
``quota``, ``500``, ``short`` (one vector missing).
"""

import base64
import hashlib
import re
import struct
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .state import Recorded

if TYPE_CHECKING:
    from .server import Handler

MAX_INPUTS = 2048
MAX_TOKENS = 8192
NATIVE_DIMENSIONS = {"text-embedding-3-large": 3072, "text-embedding-3-small": 1536}
DEFAULT_DIMENSIONS = 1536

CONCEPTS: dict[str, tuple[str, ...]] = {
    "vehicle": ("car", "cars", "automobile", "automobiles", "vehicle", "vehicles", "sedan", "汽车", "车", "轿车"),
    "engine": ("engine", "engines", "motor", "motors", "gearbox", "transmission", "发动机", "引擎"),
    "repair": (
        "repair",
        "repairs",
        "fix",
        "fixing",
        "mend",
        "mechanic",
        "garage",
        "broken",
        "service",
        "修理",
        "维修",
        "修",
    ),
    "noise": ("noise", "noises", "rattle", "rattling", "squeak", "squeaking", "clunk", "sound", "噪音", "异响", "响声"),
    "cooking": (
        "cook",
        "cooking",
        "recipe",
        "recipes",
        "bake",
        "baking",
        "kitchen",
        "dish",
        "烹饪",
        "做饭",
        "菜谱",
        "食谱",
    ),
    "pasta": ("pasta", "spaghetti", "noodle", "noodles", "macaroni", "面条", "意面"),
    "dog": ("dog", "dogs", "puppy", "puppies", "canine", "hound", "狗", "小狗"),
    "cat": ("cat", "cats", "kitten", "kittens", "feline", "猫", "小猫"),
    "ocean": ("ocean", "oceans", "sea", "seas", "marine", "whale", "whales", "海洋", "大海", "鲸鱼"),
    "money": ("money", "finance", "budget", "savings", "invest", "investing", "salary", "钱", "理财", "预算"),
    "tax": ("tax", "taxes", "vat", "irs", "税", "税务", "增值税"),
    "travel": ("travel", "trip", "journey", "flight", "flights", "vacation", "holiday", "旅行", "旅游", "航班"),
    "sleep": ("sleep", "sleeping", "insomnia", "nap", "tired", "bedtime", "睡眠", "失眠", "睡觉"),
    "python": ("python", "django", "pip", "virtualenv"),
    "database": ("database", "databases", "sql", "postgresql", "postgres", "sqlite", "数据库"),
    "speed": ("slow", "slowly", "fast", "faster", "speed", "performance", "latency", "慢", "快", "性能"),
    "garden": ("garden", "gardening", "plant", "plants", "tomato", "tomatoes", "soil", "花园", "植物", "番茄"),
}
_CONCEPT_OF = {word: concept for concept, words in CONCEPTS.items() for word in words}
_STOPWORDS_TEXT = (
    "a an the and or but of to in on at for with my your our is are was were be been it its this that these those "
    "i you he she we they me him her us them do does did how what why when where which who can could should would "
    "will just so very about from by as if not no yes any some there here have has had get got make makes up out "
    "的 了 是 我 你 他 她 它 在 和 吗 呢 啊 吧 有 这 那 怎么 什么 为什么 一个"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]+")


def terms(text: str) -> list[str]:
    """The concepts (or, failing one, the words) a text is about."""
    found = []
    for run in _WORD.findall(text.lower()):
        if run[0] < "\u3400":
            if run not in STOPWORDS:
                found.append(_CONCEPT_OF.get(run, run))
            continue
        # Chinese: known words of one to three characters, longest first, else the character itself.
        i = 0
        while i < len(run):
            for size in (3, 2, 1):
                piece = run[i : i + size]
                if len(piece) == size and (piece in _CONCEPT_OF or piece in STOPWORDS or size == 1):
                    if piece not in STOPWORDS:
                        found.append(_CONCEPT_OF.get(piece, piece))
                    i += size
                    break
    return found


@lru_cache(maxsize=50_000)
def _direction(term: str, dimensions: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(term.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dimensions).astype(np.float32)


# What a term weighs: a concept most, a word the thesaurus does not know less, a lone Chinese character least.
def _weight(term: str) -> float:
    if term in CONCEPTS:
        return 1.0
    return 0.25 if len(term) == 1 and term >= "\u3400" else 0.5


def vector(text: str, dimensions: int) -> np.ndarray:
    found = terms(text) or ["\0empty"]
    total = np.zeros(dimensions, dtype=np.float32)
    for term in found:
        total += _weight(term) * _direction(term, dimensions)
    return total / (float(np.linalg.norm(total)) or 1.0)


def token_count(text: str) -> int:
    return max(1, len(_WORD.findall(text.lower())) + len(text) // 40)


def embeddings(handler: "Handler", body: dict[str, Any], record: Recorded) -> None:
    state = handler.server.state
    with state.lock:
        scenario = state.embedding_script.pop(0) if state.embedding_script else "ok"
    if scenario == "429":
        handler._error(429, "Rate limit reached for requests.", "rate_limit_exceeded", {"Retry-After": "1"})
        return
    if scenario == "quota":
        handler._error(429, "You exceeded your current quota.", "insufficient_quota")
        return
    if scenario == "500":
        handler._error(500, "The server had an error while processing your request.", "server_error")
        return
    model = str(body.get("model") or "")
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not model:
        handler._error(400, "you must provide a model parameter", "invalid_request_error")
        return
    if not isinstance(inputs, list) or not inputs or not all(isinstance(text, str) for text in inputs):
        handler._error(400, "'input' must be a string or an array of strings.", "invalid_request_error")
        return
    if len(inputs) > MAX_INPUTS:
        handler._error(400, f"'input' must have at most {MAX_INPUTS} items.", "invalid_request_error")
        return
    if any(not text for text in inputs):
        handler._error(400, "'input' cannot contain an empty string.", "invalid_request_error")
        return
    counts = [token_count(text) for text in inputs]
    if max(counts) > MAX_TOKENS:
        handler._error(400, f"This model's maximum context length is {MAX_TOKENS} tokens.", "context_length_exceeded")
        return
    dimensions = NATIVE_DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    if body.get("dimensions") is not None:
        if not model.startswith("text-embedding-3"):
            handler._error(400, "This model does not support specifying dimensions.", "invalid_request_error")
            return
        asked = body["dimensions"]
        if not isinstance(asked, int) or not 1 <= asked <= dimensions:
            handler._error(400, f"'dimensions' must be between 1 and {dimensions}.", "invalid_request_error")
            return
        dimensions = asked
    if state.embedding_delay:
        time.sleep(state.embedding_delay)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(inputs):
        values = vector(text, dimensions)
        embedding: Any = (
            base64.b64encode(struct.pack(f"<{dimensions}f", *values)).decode() if as_base64 else values.tolist()
        )
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    if scenario == "short":
        data.pop()
    usage = {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
    handler._send_json(200, {"object": "list", "data": data, "model": model, "usage": usage})
    handler._reported(model, usage)
