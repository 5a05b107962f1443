"""Property tests for the payload builder: any history, any text, any budget."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from aitre.models import ModelSetting
from chat.models import Conversation, Message
from chat.payload import build_payload, estimate_tokens

# Latin, CJK, emoji, control characters, and nothing at all.
TEXT = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from("简体中文😀\n\t\x00 ")), min_size=0, max_size=400
)
HUGE = st.integers(min_value=5_000, max_value=60_000).map(lambda n: "word " * (n // 5))


@st.composite
def histories(draw):
    """A version path: user and assistant turns, ending with the user's new message."""
    turns = draw(st.integers(min_value=0, max_value=25))
    history = []
    for _ in range(turns):
        history.append(Message(role="user", content=draw(st.one_of(TEXT, HUGE))))
        # Failed replies may be empty: they are not part of what was said.
        history.append(Message(role="assistant", content=draw(TEXT)))
    history.append(Message(role="user", content=draw(st.one_of(TEXT.filter(str.strip), HUGE))))
    return history


@settings(max_examples=300, deadline=None)
@given(
    history=histories(),
    system_prompt=st.one_of(st.just(""), TEXT),
    temperature=st.one_of(st.none(), st.floats(min_value=0, max_value=2)),
    max_tokens=st.integers(min_value=1, max_value=8_000),
    context_tokens=st.integers(min_value=16, max_value=200_000),
)
def test_the_payload_keeps_the_newest_turns_that_fit_in_order(
    history, system_prompt, temperature, max_tokens, context_tokens
):
    conversation = Conversation(model="m", system_prompt=system_prompt, temperature=temperature)
    setting = ModelSetting(name="m", max_tokens=max_tokens, context_tokens=context_tokens)
    payload, dropped = build_payload(conversation, history, setting)

    json.dumps(payload)  # what goes over the wire serializes, whatever the text
    messages = payload["messages"]
    assert payload["max_tokens"] == max_tokens
    assert ("temperature" in payload) == (temperature is not None)
    if system_prompt:
        assert messages[0] == {"role": "system", "content": system_prompt}
        messages = messages[1:]
    # The user's new message is always sent, last.
    assert messages[-1] == {"role": "user", "content": history[-1].content}
    # What is kept is the newest part of what was said, in order, starting on a user turn.
    said = [m for m in history[:-1] if m.content]
    kept = messages[:-1]
    assert kept == [{"role": m.role, "content": m.content} for m in said[len(said) - len(kept) :]]
    assert not kept or kept[0]["role"] == "user"
    assert dropped == len(said) - len(kept)
    # Within budget, unless only the new message and the prompt are left.
    budget = max(context_tokens - max_tokens, context_tokens // 2)
    if kept:
        assert sum(estimate_tokens(m["content"]) + 4 for m in payload["messages"]) <= budget


@given(st.text())
def test_token_estimates_are_never_negative_and_grow_with_the_text(text):
    assert estimate_tokens(text) >= 0
    assert estimate_tokens(text + text) >= estimate_tokens(text)
