"""
The site's token estimates, measured against a server's own counts: the
fake server counts with Qwen2.5's vocabulary and chat template (see
tests/fake_aitre/tokens.py), the site with cl100k (aitre.tokens). The
figures printed here are the README's "Estimated usage".
"""

import math

import pytest
from django.urls import reverse

from aitre import tokens
from chat.models import Message
from tests.aitre.token_corpus import CORPUS
from usage.models import UsageRecord

QWEN = "qwen2.5-7b-instruct"


def character_rule(text: str) -> int:
    """The estimate the tokenizer replaced: four characters a token, one a CJK character."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return wide + math.ceil((len(text) - wide) / 4)


def test_counts_come_from_a_real_vocabulary_shipped_in_a_package():
    assert tokens.count("Hello world") == 2
    assert tokens.count("") == 0
    assert tokens.count("<|endoftext|>") > 1, "special tokens in user text are plain text"
    assert tokens.count("In 2026") == tokens.count("In 20") + 2, "each digit counts, as open models split them"
    assert tokens.count("In 2026", "gpt-4o") == tokens.count("In 20", "gpt-4o") + 1, "GPT's take three at once"
    assert tokens.groups_digits("openai/gpt-4o-mini") and tokens.groups_digits("llama-3.1-8b-instruct")
    assert not tokens.groups_digits("qwen2.5-0.5b-instruct") and not tokens.groups_digits("mistral-small")
    assert tokens.count_messages([{"content": "Hi"}, {"content": [{"type": "text", "text": "Hi"}]}]) == 2 * (1 + 4) + 3


@pytest.fixture
def measured(alice_client, fake):
    """Each corpus text sent through the site: (kind, the site's estimate, the server's count, the old rule's)."""
    fake.state.real_counts = True
    fake.state.models = [QWEN]
    rows = []
    for kind, text in CORPUS.items():
        alice_client.post(reverse("chat:start"), {"text": text, "model": QWEN})
        request = fake.chat_requests()[-1].body
        assert request["messages"][-1]["content"] == text
        server = fake.state.reported[-1]["prompt_tokens"]
        old = sum(character_rule(m["content"]) + 4 for m in request["messages"])
        rows.append((kind, tokens.count_messages(request["messages"], QWEN), server, old))
    return rows


def test_the_estimate_is_near_the_servers_own_count_where_the_character_rule_was_not(measured):
    print("\nkind             server  site (error)   character rule (error)")
    for kind, site, server, old in measured:
        print(f"{kind:16} {server:6} {site:5} ({site / server - 1:+.0%})   {old:5} ({old / server - 1:+.0%})")
    site_total, server_total, old_total = (sum(row[i] for row in measured) for i in (1, 2, 3))
    print(f"{'all':16} {server_total:6} {site_total:5} ({site_total / server_total - 1:+.0%})   ", end="")
    print(f"{old_total:5} ({old_total / server_total - 1:+.0%})")

    errors = {kind: site / server - 1 for kind, site, server, _old in measured}
    for kind, error in errors.items():
        if kind == "Chinese":
            # Qwen's vocabulary has far more Chinese words than cl100k: counted high, the safe side.
            assert 0 < error < 0.8
        else:
            assert abs(error) <= 0.06, kind
    assert abs(site_total / server_total - 1) <= 0.05
    # What it replaced: far under, most of all on the numbered list.
    old_errors = {kind: old / server - 1 for kind, _site, server, old in measured}
    assert old_total / server_total - 1 < -0.35
    assert old_errors["numbered list"] < -0.5


def test_a_server_reporting_nothing_gets_the_estimate_recorded_and_marked(alice_client, fake):
    fake.script("no-usage")
    alice_client.post(reverse("chat:start"), {"text": CORPUS["numbered list"], "model": "gpt-4o"})
    reply = Message.objects.get(role="assistant")
    record = UsageRecord.objects.get()
    assert reply.usage_estimated and record.estimated
    request = fake.chat_requests()[-1].body
    assert record.prompt_tokens == tokens.count_messages(request["messages"], "gpt-4o")
    assert record.completion_tokens == tokens.count(reply.content, "gpt-4o")
