"""Assembling a chat-completions payload from a conversation's history."""

import math
from typing import Any

from aitre.models import ModelSetting

from .models import Conversation, Message

# Tokens a message costs beyond its text (role and separators), as OpenAI counts.
_PER_MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    """
    A tokenizer-free estimate: about four characters a token for Latin
    script, one token a character for CJK. Used for the context budget and
    when a server reports no usage (the record is then marked estimated).
    """
    if not text:
        return 0
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return wide + math.ceil((len(text) - wide) / 4)


def _api_message(message: Message) -> dict[str, Any]:
    if message.parts:
        content: Any = [{"type": "text", "text": message.content}, *message.parts]
    else:
        content = message.content
    return {"role": message.role, "content": content}


def _usable(message: Message) -> bool:
    """Failed replies with nothing in them are not part of what was said."""
    return bool(message.content) or bool(message.parts)


def build_payload(
    conversation: Conversation, history: list[Message], setting: ModelSetting
) -> tuple[dict[str, Any], int]:
    """
    The payload for the reply that follows ``history`` (which ends with the
    user's new message), and how many earlier messages were left out.

    When the history exceeds the model's context budget, the oldest turns go
    first; the system prompt and the new message always stay.
    """
    max_tokens = setting.effective_max_tokens
    budget = max(setting.effective_context_tokens - max_tokens, setting.effective_context_tokens // 2)
    messages = [m for m in history if _usable(m)]
    newest, earlier = messages[-1:], messages[:-1]

    used = sum(estimate_tokens(m.content) + _PER_MESSAGE_OVERHEAD for m in newest)
    if conversation.system_prompt:
        used += estimate_tokens(conversation.system_prompt) + _PER_MESSAGE_OVERHEAD
    kept: list[Message] = []
    for message in reversed(earlier):
        cost = estimate_tokens(message.content) + _PER_MESSAGE_OVERHEAD
        if used + cost > budget:
            break
        used += cost
        kept.append(message)
    kept.reverse()
    # A conversation is cut between turns: never start on an assistant reply.
    while kept and kept[0].role == Message.Role.ASSISTANT:
        kept.pop(0)
    dropped = len(earlier) - len(kept)

    api_messages = []
    if conversation.system_prompt:
        api_messages.append({"role": "system", "content": conversation.system_prompt})
    api_messages.extend(_api_message(m) for m in kept + newest)
    payload: dict[str, Any] = {"model": conversation.model, "messages": api_messages, "max_tokens": max_tokens}
    if conversation.temperature is not None:
        payload["temperature"] = conversation.temperature
    return payload, dropped
