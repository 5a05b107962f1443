"""Property tests for the payload builder: any history, any text, any budget."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aitre import tokens
from aitre.models import ModelSetting
from chat.models import Conversation, Message
from chat.payload import MIN_REPLY_TOKENS, TooLong, build_payload, check_fits

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
    alone = tokens.count_messages(
        ([{"content": system_prompt}] if system_prompt else []) + [{"content": history[-1].content}]
    )
    if alone + min(MIN_REPLY_TOKENS, setting.effective_max_tokens) > context_tokens:
        # The new message cannot fit even alone: refused, never sent cut or overflowing.
        with pytest.raises(TooLong) as refused:
            build_payload(conversation, history, setting)
        assert f"{context_tokens:,}" in refused.value.message
        return
    payload, dropped = build_payload(conversation, history, setting)

    json.dumps(payload)  # what goes over the wire serializes, whatever the text
    messages = payload["messages"]
    prompt = tokens.count_messages(messages)
    # The reply's limit: the model's, within what the context has left, never past it.
    assert 1 <= payload["max_tokens"] <= setting.effective_max_tokens < context_tokens
    assert prompt + payload["max_tokens"] <= context_tokens
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
    budget = max(context_tokens - setting.effective_max_tokens, context_tokens // 2)
    if kept:
        assert prompt <= budget


def test_a_message_too_long_for_the_context_is_refused_naming_the_limit():
    setting = ModelSetting(name="small", context_tokens=2048)
    check_fits("small", setting, "", "word " * 1500)  # about 1,500 tokens: fits, with room for a reply
    with pytest.raises(TooLong) as refused:
        check_fits("small", setting, "", "word " * 1900)
    message = refused.value.message
    assert "small" in message and "2,048" in message and "1,9" in message
    # The system prompt counts too.
    with pytest.raises(TooLong):
        check_fits("small", setting, "word " * 1000, "word " * 800)


def test_the_output_limit_stays_inside_the_context_whoever_set_it():
    assert ModelSetting(name="m", reported_context_tokens=2048).effective_max_tokens == 512, "a quarter by default"
    assert ModelSetting(name="m", reported_context_tokens=200_000).effective_max_tokens == 4096, "the site default"
    assert ModelSetting(name="m", reported_context_tokens=2048, max_tokens=9000).effective_max_tokens == 2047
    assert ModelSetting(name="m", reported_context_tokens=2048, context_tokens=8192).effective_context_tokens == 8192
    assert ModelSetting(name="m", reported_max_output_tokens=1000).effective_max_tokens == 1000


@given(st.text())
def test_token_estimates_are_never_negative_and_grow_with_the_text(text):
    assert tokens.count(text) >= 0
    assert tokens.count(text + text) >= tokens.count(text)
