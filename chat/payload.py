"""
Assembling a chat-completions payload from a conversation's history, within
the model's context.

Tokens are counted with ``aitre.tokens`` (a real tokenizer). The context
holds the prompt and the reply: the reply may use up to the model's output
limit, the history the rest (at least half the context), the oldest turns
going first. A message that cannot fit even alone, with room for a short
reply, is refused before anything is stored or sent (``TooLong``).
"""

from dataclasses import dataclass
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from aitre import tokens
from aitre.capabilities import Capability
from aitre.models import ModelSetting
from lib.refusals import Refusal

from . import attachments
from .models import Conversation, Message

# A message is refused when the context would leave less than this for the reply.
MIN_REPLY_TOKENS = 256

# What Continue asks after the cut reply: servers differ on continuing an
# assistant message in place (OpenAI's starts a new one), but all follow this.
CONTINUE_INSTRUCTION = (
    "Continue exactly where your previous reply stopped, mid-sentence if it stopped there. "
    "Do not repeat anything already written and do not add any preamble."
)


class TooLong(Refusal):
    """A message (with the system prompt) that cannot fit the model's context even alone."""

    http_status = 413

    def __init__(self, model: str, needed: int, context: int, reserve: int) -> None:
        self.model, self.needed, self.context, self.reserve = model, needed, context, reserve
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return _(
            "This message is too long for %(model)s: it comes to about %(needed)s tokens, and the model's "
            "context holds %(context)s, of which at least %(reserve)s are kept for the reply. "
            "Shorten it, or pick a model with a larger context."
        ) % {
            "model": self.model,
            "needed": number_format(self.needed, force_grouping=True),
            "context": number_format(self.context, force_grouping=True),
            "reserve": number_format(self.reserve, force_grouping=True),
        }


def _reply_reserve(setting: ModelSetting) -> int:
    return min(MIN_REPLY_TOKENS, setting.effective_max_tokens)


def check_fits(model: str, setting: ModelSetting, system_prompt: str, *contents: Any) -> int:
    """
    The prompt tokens of ``contents`` (the newest messages) and the system
    prompt; TooLong unless they fit with room for a reply.
    """
    needed = tokens.PER_REPLY + sum(tokens.count_message(content, model) for content in contents)
    if system_prompt:
        needed += tokens.count_message(system_prompt, model)
    context, reserve = setting.effective_context_tokens, _reply_reserve(setting)
    if needed + reserve > context:
        raise TooLong(model, needed, context, reserve)
    return needed


@dataclass
class _Turn:
    """A message of the history as the payload sees it: its text, and the images it may carry."""

    role: str
    text: str
    images: list[dict[str, Any]]
    other_parts: list[dict[str, Any]]
    with_images: bool = True

    @classmethod
    def of(cls, message: Message, vision: bool) -> "_Turn":
        parts = list(message.parts or ())
        images = [part for part in parts if attachments.is_image(part)] if vision else []
        text = message.content
        if message.role == Message.Role.ASSISTANT:
            # A picture a model drew, kept by the site: its link is this site's and the API
            # cannot fetch it, so it goes as an image, like an upload (see _carry_drawn).
            text, drawn = attachments.kept_pictures_of(text)
            images += drawn if vision else []
        return cls(str(message.role), text, images, attachments.without_images(parts))

    def content(self, *, images: bool) -> Any:
        parts = [*self.other_parts, *(self.images if images else ())]
        if not parts:
            return self.text
        text = [{"type": "text", "text": self.text}] if self.text else []
        return [*text, *parts]

    def text_cost(self, model: str) -> int:
        return tokens.count_message(self.content(images=False), model)

    def image_cost(self) -> int:
        return sum(tokens.image_tokens(part.get("width"), part.get("height")) for part in self.images)

    def cost(self, model: str) -> int:
        return self.text_cost(model) + (self.image_cost() if self.with_images else 0)


def _carry_drawn(turns: list[_Turn]) -> list[_Turn]:
    """
    The pictures of a reply moved to the user's turn after it: the API takes
    images from the user only, and "make it blue" is about the picture before.
    """
    carried: list[dict[str, Any]] = []
    for turn in turns:
        if turn.role == Message.Role.ASSISTANT:
            carried += turn.images
            turn.images = []
        elif carried:
            turn.images = [*carried, *turn.images]
            carried = []
    return turns


def _usable(message: Message) -> bool:
    """Failed replies with nothing in them are not part of what was said."""
    return bool(message.content) or bool(message.parts)


def _kept(earlier: list[_Turn], used: int, budget: int, model: str) -> tuple[list[_Turn], int]:
    """
    The newest earlier turns that fit the budget beside ``used``. Text comes
    first: every turn that fits is kept without its images, then the images
    are put back, newest first, while they fit; so when history is trimmed,
    old images go before old words.
    """
    kept: list[_Turn] = []
    for turn in reversed(earlier):
        cost = turn.text_cost(model)
        if used + cost > budget:
            break
        used += cost
        turn.with_images = False
        kept.append(turn)
    for turn in kept:  # newest first
        cost = turn.image_cost()
        if cost and used + cost <= budget:
            used += cost
            turn.with_images = True
    kept.reverse()
    return kept, used


def build_payload(
    conversation: Conversation, history: list[Message], setting: ModelSetting, *, continuing: str = ""
) -> tuple[dict[str, Any], int]:
    """
    The payload for the reply that follows ``history`` (which ends with the
    user's new message), and how many earlier messages were left out. With
    ``continuing`` (the text of a reply cut at the length limit), the payload
    asks for more of that reply.

    When the history exceeds the model's context budget, old images go
    first, then the oldest turns; the system prompt and the newest turn
    always stay, and ``max_tokens`` shrinks to what the context has left.
    Images go only to a model with the vision capability. Raises TooLong
    when even the newest turn does not fit.
    """
    context = setting.effective_context_tokens
    max_tokens = setting.effective_max_tokens
    budget = max(context - max_tokens, context // 2)
    vision = setting.can(Capability.VISION)
    turns = _carry_drawn([_Turn.of(m, vision) for m in history if _usable(m)])
    newest, earlier = turns[-1:], turns[:-1]
    if continuing:
        newest += [
            _Turn(Message.Role.ASSISTANT, continuing, [], []),
            _Turn(Message.Role.USER, CONTINUE_INSTRUCTION, [], []),
        ]
    model = conversation.model
    used = check_fits(model, setting, conversation.system_prompt, *(t.content(images=True) for t in newest))
    kept, used = _kept(earlier, used, budget, model)
    # A conversation is cut between turns: never start on an assistant reply.
    while kept and kept[0].role == Message.Role.ASSISTANT:
        used -= kept.pop(0).cost(model)
    dropped = len(earlier) - len(kept)

    api_messages = []
    if conversation.system_prompt:
        api_messages.append({"role": "system", "content": conversation.system_prompt})
    turns_sent = kept + newest
    contents = attachments.api_contents([t.content(images=t.with_images) for t in turns_sent], conversation.owner_id)
    api_messages += [
        {"role": turn.role, "content": content} for turn, content in zip(turns_sent, contents, strict=True)
    ]
    payload: dict[str, Any] = {
        "model": conversation.model,
        "messages": api_messages,
        # The reply never asks for more than the context has left.
        "max_tokens": max(1, min(max_tokens, context - used)),
    }
    if conversation.temperature is not None:
        payload["temperature"] = conversation.temperature
    return payload, dropped
