"""
The site against a server that is not OpenAI: a small local model with its
own name, its own small context, no usage in its streams, and its own way
of refusing a prompt that is too long (the issue "Any server, told the truth").
"""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from aitre import catalog, tokens
from aitre.models import ModelSetting
from chat import replies
from chat.models import Conversation, Message
from chat.settling import settle_stale
from tests.helpers import JSON, alices_state
from usage.models import UsageRecord

LOCAL = "qwen2.5-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture
def local_server(fake):
    """One model, a 2,048-token context said in llama.cpp's shapes, answering any name with its own."""
    fake.state.model_entries = [
        {"id": LOCAL, "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx_train": 32768, "n_vocab": 151936}}
    ]
    fake.state.props = {"default_generation_settings": {"n_ctx": 2048}, "total_slots": 1}
    fake.state.serves = LOCAL
    fake.state.context = 2048
    return fake


def new_chat(client, text="Hello", **extra):
    return client.post(reverse("chat:start"), {"text": text, **extra})


# --- 1. Only the models the server has -------------------------------------------------


@pytest.fixture
def silent_server(fake):
    """llama-cpp-python's server: one model, and nothing said of its context (no meta, no /props)."""
    fake.state.model_entries = [{"id": LOCAL, "object": "model", "owned_by": "me"}]
    fake.state.serves = LOCAL
    fake.state.context = 2048
    fake.state.overflow = "empty"
    return fake


def test_a_model_whose_context_nobody_knows_gets_modest_replies_and_a_clear_over_long_answer(
    alice_client, silent_server, superuser_client
):
    """Assumed 32,000: asked 4,096 output tokens (150 s for a short question); a long message 'ended early'."""
    new_chat(alice_client, text="What is a lighthouse?")
    assert silent_server.chat_requests()[-1].body["max_tokens"] <= 1024
    assert Message.objects.get(role="assistant").status == "complete"

    conversation = Conversation.objects.get()
    three_thousand_words = " ".join(f"word{n}" for n in range(3000))
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": three_thousand_words})
    reply = Message.objects.filter(role="assistant").latest("pk")
    assert reply.status == "error" and "probably longer than this model's context" in reply.error
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    shown = page.split(f'id="m{reply.pk}"')[1].split("</article>")[0]
    assert "Retry" not in shown, "a Retry that can only fail is not offered"
    assert sum(r.cost or 0 for r in UsageRecord.objects.filter(pk__gt=0)) == 0

    admin_client, _root = superuser_client
    listing = admin_client.get(reverse("admin:aitre_modelsetting_changelist")).content.decode()
    assert "unknown (assumed 32,000)" in listing


def test_a_fresh_install_offers_and_preselects_only_the_servers_model(alice, alice_client, local_server):
    page = alice_client.get(reverse("chat:home")).content.decode()
    assert f'<option value="{LOCAL}" selected' in page
    assert "gpt-4o-mini" not in page, "the site's default is not offered when the server does not list it"
    assert catalog.offer(alice).names == [LOCAL]

    new_chat(alice_client)  # no model chosen: the default, which the server has
    conversation = Conversation.objects.get()
    assert conversation.model == LOCAL
    assert local_server.chat_requests()[-1].body["model"] == LOCAL


def test_the_model_shown_and_recorded_is_the_one_the_server_said(alice_client, fake):
    fake.state.serves = "llama-3.2-1b"  # asked for gpt-4o-mini, answers as itself
    new_chat(alice_client, model="gpt-4o-mini")
    reply = Message.objects.get(role="assistant")
    assert reply.model == "llama-3.2-1b"
    assert UsageRecord.objects.get().model == "llama-3.2-1b"
    page = alice_client.get(reverse("chat:conversation", args=[reply.conversation_id])).content.decode()
    assert '<span class="msg-author">llama-3.2-1b</span>' in page


def test_the_default_is_the_admins_choice_then_the_sites_then_the_first_listed(alice, fake):
    fake.state.models = ["gpt-4o", "gpt-4o-mini", "mistral-small"]
    assert catalog.offer(alice).default == "gpt-4o-mini", "the site's default, since the server lists it"
    ModelSetting.objects.update_or_create(name="mistral-small", defaults={"is_default": True})
    assert catalog.offer(alice).default == "mistral-small"
    fake.state.models = ["gpt-4o"]
    cache.clear()
    assert catalog.offer(alice).default == "gpt-4o", "a default the server no longer lists is not pre-selected"


def test_a_model_the_admin_added_is_offered_though_unlisted(alice, local_server):
    ModelSetting.objects.create(name="my-gateway-model", label="Gateway model")
    offer = catalog.offer(alice)
    assert ("my-gateway-model", "Gateway model") in offer.choices
    assert "gpt-4o-mini" not in offer.names


def test_the_pickers_use_the_admins_display_names(alice_client, conversation, fake):
    ModelSetting.objects.create(name="gpt-4o", label="GPT-4o (best)", discovered=True, capabilities=["chat"])
    home = alice_client.get(reverse("chat:home")).content.decode()
    assert '<option value="gpt-4o" title="gpt-4o">GPT-4o (best)</option>' in home
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert '<option value="gpt-4o">GPT-4o (best)</option>' in page


@pytest.mark.parametrize(("status", "words"), [(401, "rejected the site"), (500, "failed (500)")])
def test_when_the_list_cannot_be_fetched_the_picker_and_the_admin_say_why(
    alice_client, superuser_client, fake, status, words
):
    fake.state.list_status = status
    page = alice_client.get(reverse("chat:home")).content.decode()
    assert "The model list could not be fetched from the API" in page and words in page
    admin_client, _root = superuser_client
    listing = admin_client.get(reverse("admin:aitre_modelsetting_changelist")).content.decode()
    assert "The model list could not be fetched from the API" in listing


def test_with_no_model_at_all_a_send_is_refused_plainly(alice_client, fake):
    fake.state.models = []
    response = alice_client.post(reverse("chat:start"), {"text": "Hi"}, **JSON)
    assert response.status_code == 503
    assert "The API offers no model for chat" in response.json()["error"]
    assert not Conversation.objects.exists()


# --- 3. Limits from the server ------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "context", "output"),
    [
        ({"id": "m", "max_model_len": 8192}, 8192, None),  # vLLM
        ({"id": "m", "context_length": 131072, "top_provider": {"max_completion_tokens": 16384}}, 131072, 16384),
        ({"id": "m", "top_provider": {"context_length": 65536}}, 65536, None),  # OpenRouter, nested
        ({"id": "m", "max_context_length": 4096}, 4096, None),  # LM Studio
        ({"id": "m", "object": "model"}, None, None),  # OpenAI says nothing
    ],
)
def test_the_context_a_server_states_becomes_the_models_default(alice, fake, entry, context, output):
    fake.state.model_entries = [entry]
    catalog.offer(alice)
    setting = ModelSetting.objects.get(name="m")
    assert (setting.reported_context_tokens, setting.reported_max_output_tokens) == (context, output)


def test_llama_cpp_is_asked_the_context_it_was_started_with(alice, local_server):
    catalog.offer(alice)
    setting = ModelSetting.objects.get(name=LOCAL)
    assert setting.reported_context_tokens == 2048, "the server's n_ctx, not the model's 32,768"
    assert setting.effective_context_tokens == 2048
    assert setting.effective_max_tokens == 512


def test_a_reply_never_asks_past_the_context_and_the_admin_can_override(alice_client, local_server):
    new_chat(alice_client, text="Tell me a long story")
    body = local_server.chat_requests()[-1].body
    assert body["max_tokens"] == 512, "a quarter of the server's 2,048, not the site's 4,096"
    setting = ModelSetting.objects.get(name=LOCAL)
    setting.max_tokens = 1500
    setting.save()
    conversation = Conversation.objects.get()
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "word " * 900})
    body = local_server.chat_requests()[-1].body
    assert tokens.count_messages(body["messages"]) + body["max_tokens"] <= 2048
    assert body["max_tokens"] < 1500, "shrunk to what the context has left"


def test_the_admin_shows_the_servers_context_and_refuses_an_output_limit_past_it(superuser_client, local_server):
    admin_client, _root = superuser_client
    listing = admin_client.get(reverse("admin:aitre_modelsetting_changelist")).content.decode()
    assert "2,048 (server)" in listing
    setting = ModelSetting.objects.get(name=LOCAL)
    page = admin_client.get(reverse("admin:aitre_modelsetting_change", args=[setting.pk])).content.decode()
    assert "context 2,048 tokens, replies up to 512 tokens" in page
    response = admin_client.post(
        reverse("admin:aitre_modelsetting_change", args=[setting.pk]),
        {"name": LOCAL, "label": "", "offered": "on", "capabilities": ["chat"], "max_tokens": "4096"},
    )
    assert response.status_code == 200
    assert "The output limit must be smaller than the context (2,048 tokens)." in response.content.decode()
    assert ModelSetting.objects.get(pk=setting.pk).max_tokens is None


# --- 2. Too long for the context -------------------------------------------------------------


def test_a_message_that_cannot_fit_alone_is_refused_before_anything_is_stored(alice_client, local_server):
    new_chat(alice_client)
    conversation = Conversation.objects.get()
    before, calls, records = alices_state(), len(local_server.chat_requests()), UsageRecord.objects.count()
    long_text = "1. an item of a numbered list\n" * 400  # about 3,600 tokens

    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": long_text}, **JSON)
    assert response.status_code == 413
    error = response.json()["error"]
    assert "too long for" in error and "2,048" in error
    assert alices_state() == before
    assert len(local_server.chat_requests()) == calls, "nothing sent"
    assert UsageRecord.objects.count() == records, "nothing recorded"

    # Without the script: the page, the message, and the text kept in the composer.
    page = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": long_text})
    assert page.status_code == 413
    assert "too long for" in page.content.decode() and "1. an item of a numbered list" in page.content.decode()
    # A first message too.
    first = alice_client.post(reverse("chat:start"), {"text": long_text}, **JSON)
    assert first.status_code == 413
    assert Conversation.objects.count() == 1


@pytest.mark.parametrize("overflow", ["400", "error-event", "empty"])
def test_a_server_refusing_a_long_prompt_gets_one_clear_message_and_costs_nothing(alice_client, local_server, overflow):
    local_server.state.overflow = overflow
    new_chat(alice_client, text="Hi")
    conversation = Conversation.objects.get()
    # The admin believes the context is twice what the server was started with.
    ModelSetting.objects.filter(name=LOCAL).update(context_tokens=4096)
    catalog.forget_settings()  # an update sends no signal: as another process's change, seen within seconds
    text = "1. an item of a numbered list\n" * 250  # about 2,300 tokens: fits 4,096, not 2,048
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": text})
    assert response.status_code == 302
    reply = conversation.messages.filter(role="assistant").latest("pk")
    assert reply.status == "error"
    assert "too long for" in reply.error and "4,096" in reply.error and "2,3" in reply.error
    assert reply.finish_reason == "context_length"
    record = UsageRecord.objects.order_by("pk").last()
    assert (record.total_tokens, record.cost, record.succeeded) == (0, None, False)
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert 'class="retry"' not in page, "a Retry would fail the same way"


def test_an_empty_reply_to_a_short_prompt_says_so_and_costs_nothing_unless_the_server_billed_it(alice_client, fake):
    fake.state.pieces = []
    fake.script("no-usage")
    new_chat(alice_client, text="Hi")
    reply = Message.objects.get(role="assistant")
    assert reply.status == "error" and "empty reply" in reply.error
    assert UsageRecord.objects.get().total_tokens == 0
    # A server that reported usage for it billed it: the ledger says what the server said.
    new_chat(alice_client, text="Hi again")
    assert UsageRecord.objects.latest("pk").total_tokens > 0


# --- 5. Cut at the length limit, and Continue ---------------------------------------------------


def test_a_reply_cut_at_the_limit_is_complete_text_and_continues_in_place(alice_client, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=5)
    fake.state.reply = "One two three four five six seven eight nine ten."
    fake.script("no-usage", "no-usage")
    new_chat(alice_client, text="Count")
    reply = Message.objects.get(role="assistant")
    assert (reply.status, reply.finish_reason, reply.error) == ("complete", "length", "")
    assert reply.content == "One two three four five"
    page = alice_client.get(reverse("chat:conversation", args=[reply.conversation_id])).content.decode()
    assert "reached the length limit" in page and 'class="continue"' in page
    assert "msg-error" not in page.split(f'id="m{reply.pk}"')[1].split("</article>")[0], "not shown as an error"
    first_tokens = (reply.prompt_tokens, reply.completion_tokens)

    fake.state.reply = " six seven eight nine ten."
    response = alice_client.post(reverse("chat:continue", args=[reply.pk]))
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.content == "One two three four five six seven eight nine ten."
    assert Message.objects.filter(role="assistant").count() == 1, "the same reply, not a new version"
    assert reply.finish_reason == "stop"
    asked = fake.chat_requests()[-1].body["messages"]
    assert asked[-2] == {"role": "assistant", "content": "One two three four five"}
    assert asked[-1]["role"] == "user" and "Continue exactly where" in asked[-1]["content"]
    # Usage added: two calls recorded, the message shows both.
    records = list(UsageRecord.objects.order_by("pk"))
    assert len(records) == 2 and all(r.estimated for r in records)
    assert reply.prompt_tokens == first_tokens[0] + records[1].prompt_tokens
    assert reply.completion_tokens == first_tokens[1] + records[1].completion_tokens
    assert reply.usage_estimated


@pytest.mark.parametrize(
    ("first", "then", "whole"),
    [
        ("The old lighthouse", "Continued into the night.", "The old lighthouse Continued into the night."),
        ("It ended.", "Then the keeper slept.", "It ended. Then the keeper slept."),
        ("The old lightho", "use keeper slept.", "The old lighthouse keeper slept."),
        ("The old lighthouse", " keeper slept.", "The old lighthouse keeper slept."),
        ("灯塔很老。", "守塔人睡了。", "灯塔很老。守塔人睡了。"),
    ],
)
def test_continue_puts_the_space_the_model_left_out_at_the_join(alice_client, fake, first, then, whole):
    """'lighthouseContinue': a continuation may start without the space between two words."""
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=1)
    fake.state.pieces = [first, " and more"]  # cut after the first piece, at the length limit
    new_chat(alice_client, text="Tell me")
    reply = Message.objects.get(role="assistant")
    assert reply.content == first and reply.can_continue
    fake.state.pieces = [then]
    alice_client.post(reverse("chat:continue", args=[reply.pk]))
    reply.refresh_from_db()
    assert reply.content == whole


def test_an_interrupted_reply_continues_from_its_saved_text(alice_client, alice, fake):
    """After a deploy or a crash, only Retry was offered, which starts over."""
    conversation = Conversation.objects.create(owner=alice, model="gpt-4o-mini")
    question = Message.objects.create(conversation=conversation, role="user", content="Tell me a story")
    reply = Message.objects.create(
        conversation=conversation,
        parent=question,
        role="assistant",
        content="Once upon a time,",
        status="interrupted",
        error="The reply was interrupted because the server restarted. You can retry it.",
    )
    conversation.touch(current_leaf=reply)
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    shown = page.split(f'id="m{reply.pk}"')[1].split("</article>")[0]
    assert "Continue from here" in shown and "Retry" in shown
    fake.state.pieces = [" a lighthouse keeper lived alone."]
    assert alice_client.post(reverse("chat:continue", args=[reply.pk])).status_code == 302
    reply.refresh_from_db()
    assert (reply.status, reply.error) == ("complete", "")
    assert reply.content == "Once upon a time, a lighthouse keeper lived alone."
    assert fake.chat_requests()[-1].body["messages"][-2] == {"role": "assistant", "content": "Once upon a time,"}


def test_only_the_last_cut_reply_continues(alice_client, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=3)
    new_chat(alice_client, text="Count")
    reply = Message.objects.get(role="assistant")
    ModelSetting.objects.filter(name="gpt-4o-mini").update(max_tokens=None)
    catalog.forget_settings()
    alice_client.post(reverse("chat:send", args=[reply.conversation_id]), {"text": "Next"})
    before = alices_state()
    response = alice_client.post(reverse("chat:continue", args=[reply.pk]), **JSON)
    assert response.status_code == 409
    assert alices_state() == before
    finished = Message.objects.filter(role="assistant").latest("pk")
    assert alice_client.post(reverse("chat:continue", args=[finished.pk]), **JSON).status_code == 409


def test_a_continuation_with_nothing_more_to_say_finishes_the_reply(alice_client, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=4)
    new_chat(alice_client, text="Count")
    reply = Message.objects.get(role="assistant")
    fake.state.pieces = []
    alice_client.post(reverse("chat:continue", args=[reply.pk]))
    reply.refresh_from_db()
    assert (reply.status, reply.finish_reason, reply.error) == ("complete", "stop", "")
    assert not reply.can_continue


def test_a_failed_continuation_keeps_the_reply_and_offers_continue_again(alice_client, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=4)
    new_chat(alice_client, text="Count")
    reply = Message.objects.get(role="assistant")
    text = reply.content
    fake.script("503")
    alice_client.post(reverse("chat:continue", args=[reply.pk]))
    reply.refresh_from_db()
    assert (reply.status, reply.finish_reason, reply.content) == ("complete", "length", text)
    assert reply.error.startswith("Continuing failed:")
    assert reply.can_continue


# --- 6. Another tab ----------------------------------------------------------------------------


def test_another_tab_learns_of_a_new_message_with_one_small_request(alice_client, bob_client, owned, fake):
    conversation = Conversation.objects.get(pk=owned["conversation"])
    url = reverse("chat:changes", args=[conversation.pk])
    assert alice_client.get(url, {"leaf": owned["message"]}).status_code == 204
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "From the other tab"})
    changed = alice_client.get(url, {"leaf": owned["message"]}, **JSON)
    assert changed.status_code == 200
    assert "From the other tab" in changed.json()["thread"]
    assert changed.json()["leaf"] == Conversation.objects.get(pk=conversation.pk).current_leaf_id
    assert bob_client.get(url, {"leaf": ""}).status_code == 404


def test_a_continuation_whose_process_died_records_only_what_it_wrote(alice_client, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=4)
    new_chat(alice_client, text="Count")
    reply = Message.objects.get(role="assistant")
    before = (reply.prompt_tokens, reply.completion_tokens, reply.content)
    reopened = replies.continue_reply(reply)
    assert (reopened.status, reopened.continued_from) == ("pending", len(before[2]))
    # Its process wrote a little more, then died.
    Message.objects.filter(pk=reply.pk).update(
        status="streaming", content=before[2] + " five six", updated_at=timezone.now().replace(year=2000)
    )
    assert settle_stale(Message.objects.all()) == 1
    reply.refresh_from_db()
    record = UsageRecord.objects.latest("pk")
    assert record.estimated and not record.succeeded
    assert record.completion_tokens == tokens.count(" five six", "gpt-4o-mini"), "only the continuation's text"
    assert record.prompt_tokens == before[0] + before[1], "its prompt held the reply so far"
    assert reply.completion_tokens == before[1] + record.completion_tokens
    assert reply.status == "interrupted" and reply.content.endswith("five six")


@pytest.mark.parametrize(
    ("page", "feature", "submit"),
    [
        ("midjourney:page", "Midjourney", "Imagine"),
        ("images:studio", "image generation", "Generate"),
        ("audio:page", "transcription and translation", "Turn into text"),
        ("playground:page", "legacy completions", "Submit"),
    ],
)
def test_a_page_for_an_endpoint_the_server_lacks_says_so_and_is_disabled(alice_client, fake, page, feature, submit):
    """A plain OpenAI-compatible server: no notice, and a submit failed with 'Pick another model'."""
    fake.state.models = ["gpt-4o-mini"]
    html = alice_client.get(reverse(page)).content.decode()
    assert f"The API offers no model for {feature}, so this cannot be used here." in html
    button = re.search(rf"<button type=\"submit\"[^>]*>{submit}</button>", html)
    assert button is not None and "disabled" in button.group(0)


def test_a_midjourney_submit_without_midjourney_is_refused_before_any_call(alice_client, fake):
    fake.state.models = ["gpt-4o-mini"]
    response = alice_client.post(reverse("midjourney:imagine"), {"prompt": "a cat", "bot_type": "MID_JOURNEY"}, **JSON)
    assert response.status_code == 409 and "no model for Midjourney" in response.json()["error"]
    assert not fake.mj_requests("/mj/submit/imagine")
