"""Chat over HTTP: the views, the reply engine and the fake API together."""

import json
import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import search.indexing
from aitre.models import ModelSetting
from chat import threads
from chat.live import live_reply
from chat.models import Conversation, Message
from chat.settling import settle_stale
from chat.streaming import utf16_length
from tests.helpers import run_concurrently, wait_for
from usage.models import UsageRecord

JSON = {"HTTP_ACCEPT": "application/json"}


def events_of(response) -> list[tuple[str, dict]]:
    """Read an event stream to its end: (event, data) pairs."""
    body = b"".join(response.streaming_content).decode()
    events = []
    for block in body.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        name = lines[0].removeprefix("event: ")
        data = json.loads(lines[1].removeprefix("data: "))
        events.append((name, data))
    return events


def last_reply(conversation: Conversation) -> Message:
    return conversation.messages.filter(role="assistant").latest("pk")


# --- Sending without JavaScript --------------------------------------------------


def test_it_sends_and_saves_the_whole_reply_without_javascript(alice_client, conversation, fake):
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hello there"})
    reply = last_reply(conversation)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/c/{conversation.pk}/#m{reply.pk}")
    assert reply.status == "complete"
    assert reply.content == fake.state.reply
    assert reply.finish_reason == "stop"
    assert reply.total_tokens and reply.prompt_tokens and reply.completion_tokens
    assert not reply.usage_estimated
    assert reply.upstream_id.startswith("chatcmpl-")
    assert reply.ttft_ms is not None and reply.duration_ms is not None
    assert "<pre>" in reply.rendered
    record = UsageRecord.objects.for_subject(reply.conversation).get()
    assert (record.user, record.kind, record.model) == (conversation.owner, "chat", "gpt-4o-mini")
    assert record.total_tokens == reply.total_tokens
    page = alice_client.get(response["Location"])
    assert "Hello there" in page.content.decode()
    assert reply.rendered in page.content.decode()


def test_it_sends_the_system_prompt_first_and_the_path_in_order(alice_client, conversation, fake):
    conversation.system_prompt = "Be brief."
    conversation.temperature = 0.3
    conversation.save()
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "First"})
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Second"})
    body = fake.chat_requests()[-1].body
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][0]["content"] == "Be brief."
    assert body["messages"][1]["content"] == "First"
    assert body["messages"][3]["content"] == "Second"
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 4096


def test_every_request_carries_the_models_max_tokens(alice_client, conversation, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=256)
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    assert fake.chat_requests()[-1].body["max_tokens"] == 256


def test_it_leaves_out_the_oldest_turns_beyond_the_context_budget(alice_client, conversation, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=100, context_tokens=400)
    conversation.system_prompt = "System stays."
    conversation.save()
    for i in range(6):
        alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": f"turn {i} " + "x" * 200})
    body = fake.chat_requests()[-1].body
    assert body["messages"][0] == {"role": "system", "content": "System stays."}
    assert body["messages"][1]["role"] == "user"
    assert body["messages"][-1]["content"].startswith("turn 5")
    assert "turn 0" not in json.dumps(body)
    reply = last_reply(conversation)
    assert reply.context_dropped > 0
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert "left out to fit the model" in page


def test_it_estimates_usage_when_the_server_reports_none(alice_client, conversation, fake):
    fake.script("no-usage")
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    reply = last_reply(conversation)
    assert reply.usage_estimated
    assert reply.completion_tokens > 0
    assert UsageRecord.objects.for_subject(reply.conversation).get().estimated


def test_a_new_conversation_takes_its_title_and_model_from_the_first_send(alice_client, alice, fake):
    response = alice_client.post(reverse("chat:start"), {"text": "Plan a trip to Kyoto", "model": "gpt-4o"})
    conversation = Conversation.objects.get(owner=alice)
    assert response.status_code == 302
    assert conversation.title == "Plan a trip to Kyoto"
    assert conversation.model == "gpt-4o"
    assert fake.chat_requests()[-1].body["model"] == "gpt-4o"


# --- Failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        ("401", "key"),
        ("404", "model"),
        ("429", "Try again in 7 s"),
        ("500", "Try again"),
        ("500-text", "500"),
        ("detail", "max_tokens must be a positive integer"),
        ("stream-error", "upstream provider overloaded"),
        ("cut", "broke off in the middle"),
        ("malformed", "could not read"),
    ],
)
def test_an_upstream_failure_is_explained_and_nothing_is_lost(alice_client, conversation, fake, scenario, words):
    fake.script(scenario)
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Keep this text"})
    question = conversation.messages.get(role="user")
    reply = last_reply(conversation)
    assert question.content == "Keep this text"
    assert reply.status == "error"
    assert words in reply.error
    assert not Message.objects.live().exists()
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert words.replace("'", "&#x27;") in page
    assert "Retry" in page
    # Retry makes a new version that succeeds.
    alice_client.post(reverse("chat:regenerate", args=[reply.pk]))
    assert last_reply(conversation).status == "complete"


def test_a_stream_that_goes_silent_ends_as_an_error_with_its_text(alice_client, conversation, fake, settings):
    settings.AITRE_STREAM_IDLE_TIMEOUT = 0.5
    fake.script("stall")
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    reply = last_reply(conversation)
    assert reply.status == "error"
    assert "too long" in reply.error
    assert reply.content, "the partial text is kept"


def test_no_configured_api_is_explained(alice_client, conversation, settings):
    settings.AITRE_BASE_URL = ""
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    assert "No API is configured" in last_reply(conversation).error
    assert not UsageRecord.objects.exists(), "no call was made"


def test_a_failed_call_still_leaves_a_usage_record(alice_client, conversation, fake):
    fake.script("503")
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    record = UsageRecord.objects.get()
    assert (record.succeeded, record.total_tokens, record.subject) == (False, 0, conversation)


def test_a_reply_left_streaming_by_a_dead_process_shows_as_interrupted(alice_client, conversation, settings):
    question = Message.objects.create(conversation=conversation, role="user", content="Hi")
    reply = Message.objects.create(
        conversation=conversation, parent=question, role="assistant", status="streaming", content="Partial"
    )
    conversation.touch(current_leaf=reply)
    Message.objects.filter(pk=reply.pk).update(updated_at=reply.updated_at.replace(year=2000))
    page = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    reply.refresh_from_db()
    assert reply.status == "interrupted"
    assert reply.content == "Partial"
    assert "Interrupted" in page and "Retry" in page


@pytest.mark.django_db(transaction=True)
def test_a_writer_outliving_its_settling_records_its_call_once(alice_client, conversation, fake):
    # The writer is alive but silent past the stale time (its heartbeat lost,
    # say): swept while still pending, the settling records nothing, so the
    # writer must; one that had streamed was recorded by the settling.
    fake.state.first_token_delay = 1.0
    data = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON).json()
    Message.objects.filter(pk=data["reply"]).update(updated_at=timezone.now().replace(year=2000))
    assert settle_stale(Message.objects.filter(pk=data["reply"])) == 1
    assert not UsageRecord.objects.exists(), "pending: the settling cannot know whether the API was called"
    wait_for(lambda: UsageRecord.objects.exists())
    time.sleep(0.3)
    record = UsageRecord.objects.get()
    # It stops at its first token, seeing its reply settled: what it had, estimated.
    assert record.prompt_tokens > 0 and record.completion_tokens > 0
    assert Message.objects.get(pk=data["reply"]).status == "interrupted"


# --- Sending with JavaScript: the reply runs on its own, streams follow it -------------


@pytest.mark.django_db(transaction=True)
def test_it_streams_a_reply_that_runs_on_its_own(alice_client, conversation, fake):
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON)
    data = response.json()
    assert response.status_code == 200
    assert f'id="m{data["reply"]}"' in data["messages"]
    stream = alice_client.get(data["stream"])
    assert stream["Content-Type"].startswith("text/event-stream")
    assert stream["Cache-Control"] == "no-cache"
    assert stream["X-Accel-Buffering"] == "no"
    events = events_of(stream)
    assert events[0][0] == "snapshot"
    assert events[-1][0] == "end"
    text = events[0][1]["text"]
    for name, event in events:
        if name == "delta":
            assert event["o"] == utf16_length(text), "no piece is duplicated or missing"
            text += event["t"]
    assert text == fake.state.reply
    assert events[-1][1]["status"] == "complete"
    reply = Message.objects.get(pk=data["reply"])
    assert reply.status == "complete" and reply.content == fake.state.reply
    assert reply.rendered in events[-1][1]["html"]


def _as_the_page_merges(events: list[tuple[str, dict]]) -> list[str]:
    """
    The live text after each event, merged as follow.js does it: JavaScript
    strings count UTF-16 code units, so an emoji is two of them.
    """
    units, shown = b"", []
    for name, event in events:
        if name == "snapshot":
            units = event["text"].encode("utf-16-le")
        elif name == "delta":
            piece = event["t"].encode("utf-16-le")
            at = event["o"] * 2
            if at <= len(units) and at + len(piece) > len(units):
                units = units[:at] + piece
        elif name == "render":
            assert event["upto"] * 2 <= len(units), "rendered up to a point the page has not got"
        shown.append(units.decode("utf-16-le", errors="replace"))
    return shown


@pytest.mark.django_db(transaction=True)
def test_emoji_never_garble_the_live_text(alice_client, conversation, fake, settings):
    """ "Alpha 🎉brav", "g olf": the server counted code points, the page UTF-16 units."""
    fake.state.reply = "🎉 Alpha 👩‍👩‍👧 bravo 🎉 charlie 𝒹elta echo 🇫🇷 foxtrot golf hotel india juliett"
    fake.state.hold = threading.Event()
    data = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON).json()
    # The rest of the reply comes once the page follows it: as deltas after a snapshot with emoji in it.
    wait_for(lambda: "Alpha" in getattr(live_reply(data["reply"]), "text", ""))
    stream = alice_client.get(data["stream"])
    fake.state.hold.set()
    events = events_of(stream)
    assert "🎉" in events[0][1]["text"]
    assert any(name == "delta" for name, _ in events), "the rest came as deltas"
    for shown in _as_the_page_merges(events):
        assert fake.state.reply.startswith(shown), f"{shown!r} is not a prefix of the reply"
    assert _as_the_page_merges(events)[-1] == fake.state.reply


@pytest.mark.django_db(transaction=True)
def test_a_reply_is_finished_and_saved_when_nobody_follows_it(alice_client, conversation, fake):
    fake.state.token_delay = 0.005
    data = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON).json()
    # Nobody opens the stream: the tab was closed.
    wait_for(lambda: Message.objects.get(pk=data["reply"]).status == "complete")
    reply = Message.objects.get(pk=data["reply"])
    assert reply.content == fake.state.reply
    assert UsageRecord.objects.for_subject(reply.conversation).filter(estimated=False).exists()


@pytest.mark.django_db(transaction=True)
def test_stop_keeps_the_partial_text_and_closes_the_upstream(alice_client, conversation, fake):
    fake.state.token_delay = 0.05
    data = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON).json()
    wait_for(lambda: len(fake.chat_requests()) == 1 and fake.chat_requests()[0].sent_chunks > 3)
    response = alice_client.post(reverse("chat:stop", args=[data["reply"]]), **JSON)
    assert response.json() == {"stopped": True}
    wait_for(lambda: not Message.objects.get(pk=data["reply"]).is_live)
    reply = Message.objects.get(pk=data["reply"])
    assert reply.status == "stopped"
    assert reply.content and reply.content != fake.state.reply
    wait_for(lambda: fake.chat_requests()[0].ended is not None)
    record = UsageRecord.objects.for_subject(reply.conversation).get()
    assert record.completion_tokens > 0 and record.estimated


@pytest.mark.django_db(transaction=True)
def test_stop_before_the_first_byte_ends_the_upstream_call_at_once(alice_client, conversation, fake, settings):
    """During a 40 s stall before the server's first byte, Stop waited 35.8 s for it."""
    settings.AITRE_STREAM_IDLE_TIMEOUT = 60.0  # the tests' 5 s would end the wait on its own
    fake.script("silent")
    data = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON).json()
    wait_for(lambda: len(fake.chat_requests()) == 1)
    assert alice_client.post(reverse("chat:stop", args=[data["reply"]]), **JSON).json() == {"stopped": True}
    # The fake stays silent for 30 s: only a call ended by the site gets here sooner.
    wait_for(lambda: fake.chat_requests()[0].disconnected is not None, timeout=15)
    wait_for(lambda: not Message.objects.get(pk=data["reply"]).is_live, timeout=15)
    reply = Message.objects.get(pk=data["reply"])
    assert reply.status == "stopped" and reply.error == ""
    assert sum(r.cost or 0 for r in UsageRecord.objects.all()) == 0


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_second_send_while_a_reply_is_written(alice_client, conversation, fake):
    fake.state.token_delay = 0.05
    data = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON).json()
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Again"}, **JSON)
    assert response.status_code == 409
    without_script = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Again"})
    assert without_script.status_code == 409
    assert "Wait for the current reply to finish" in without_script.content.decode()
    assert ">Again</textarea>" in without_script.content.decode(), "the typed text is kept"
    assert conversation.messages.filter(role="user").count() == 1
    alice_client.post(reverse("chat:stop", args=[data["reply"]]), **JSON)
    wait_for(lambda: not Message.objects.live().exists())


# --- Versions ----------------------------------------------------------------------------


def test_regenerate_keeps_the_earlier_version_and_flips_between_them(alice_client, conversation, fake):
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    first = last_reply(conversation)
    fake.state.reply = "A second answer."
    alice_client.post(reverse("chat:regenerate", args=[first.pk]))
    second = last_reply(conversation)
    assert second.parent_id == first.parent_id
    conversation.refresh_from_db()
    assert [m.content for m in threads.current(conversation).messages] == ["Hi", "A second answer."]
    item = threads.current(conversation).items[1]
    assert (item.version, item.versions, item.previous_version_id) == (2, 2, first.pk)

    alice_client.post(reverse("chat:select", args=[first.pk]))
    conversation.refresh_from_db()
    assert threads.current(conversation).messages[-1] == first
    assert Message.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_edit_makes_a_new_branch_and_keeps_the_old_one(alice_client, conversation, fake):
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Original question"})
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Follow-up"})
    original = conversation.messages.get(content="Original question")
    alice_client.post(reverse("chat:edit", args=[original.pk]), {"text": "Edited question"})
    conversation.refresh_from_db()
    path = [m.content for m in threads.current(conversation).messages]
    assert path == ["Edited question", fake.state.reply]
    assert fake.chat_requests()[-1].body["messages"] == [{"role": "user", "content": "Edited question"}]
    # The old branch, follow-up included, is one click away.
    alice_client.post(reverse("chat:select", args=[original.pk]))
    conversation.refresh_from_db()
    assert [m.content for m in threads.current(conversation).messages][:3] == [
        "Original question",
        fake.state.reply,
        "Follow-up",
    ]


# --- Managing conversations --------------------------------------------------------------


def test_it_renames_and_sets_model_prompt_and_temperature(alice_client, conversation):
    response = alice_client.post(
        reverse("chat:settings", args=[conversation.pk]),
        {"title": "Renamed", "model": "gpt-4o", "system_prompt": "Speak French.", "temperature": "0.7"},
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert (conversation.title, conversation.model, conversation.system_prompt, conversation.temperature) == (
        "Renamed",
        "gpt-4o",
        "Speak French.",
        0.7,
    )


@pytest.mark.parametrize(
    "data",
    [
        {"title": "x", "model": "no-such-model", "system_prompt": "", "temperature": ""},
        {"title": "x", "model": "gpt-4o", "system_prompt": "", "temperature": "7"},
        {"title": "x", "model": "gpt-4o", "system_prompt": "", "temperature": "warm"},
        {"title": "x" * 300, "model": "gpt-4o", "system_prompt": "", "temperature": ""},
    ],
)
def test_bad_settings_are_refused_and_change_nothing(alice_client, conversation, data):
    response = alice_client.post(reverse("chat:settings", args=[conversation.pk]), data)
    assert response.status_code == 400
    conversation.refresh_from_db()
    assert (conversation.title, conversation.model) == ("Alice's chat", "gpt-4o-mini")


def test_offered_models_follow_the_live_list_and_the_admins_choices(alice_client, fake):
    ModelSetting.objects.create(name="gpt-4o", offered=False)
    ModelSetting.objects.create(name="local-llama", offered=True, is_default=True)
    page = alice_client.get(reverse("chat:home")).content.decode()
    assert '<option value="gpt-4o-mini"' in page
    assert '<option value="gpt-4o"' not in page
    assert '<option value="local-llama" selected' in page


def test_pin_search_and_delete(alice_client, alice, conversation):
    other = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Tax questions")
    Message.objects.create(conversation=other, role="user", content="What about VAT in Portugal?")
    alice_client.post(reverse("chat:pin", args=[conversation.pk]))
    conversation.refresh_from_db()
    assert conversation.pinned
    listed = list(Conversation.objects.for_user(alice).listed())
    assert listed[0] == conversation

    search.indexing.sweep_passages()
    page = alice_client.get(reverse("search:page"), {"q": "portugal"}).content.decode()
    results = page.split('class="search-results"')[1]
    assert "Tax questions" in results and "<mark>Portugal</mark>" in results and "Alice&#x27;s chat" not in results

    confirm = alice_client.get(reverse("chat:delete", args=[other.pk]))
    assert "cannot be undone" in confirm.content.decode()
    assert Conversation.objects.filter(pk=other.pk).exists()
    alice_client.post(reverse("chat:delete", args=[other.pk]))
    assert not Conversation.objects.filter(pk=other.pk).exists()


# --- Bad input and other people's things ---------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n ", "x" * 100_001])
def test_bad_messages_are_refused_and_change_nothing(alice_client, conversation, fake, text):
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": text}, **JSON)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not conversation.messages.exists()
    assert not fake.chat_requests()


def test_an_unknown_model_is_refused_for_a_new_conversation(alice_client, alice, fake):
    response = alice_client.post(reverse("chat:start"), {"text": "Hi", "model": "nope"}, **JSON)
    assert response.status_code == 400
    assert not Conversation.objects.filter(owner=alice).exists()


def test_a_missing_csrf_token_is_refused(alice, conversation):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    assert response.status_code == 403
    assert not conversation.messages.exists()


def test_every_view_answers_404_for_someone_elses_conversation(bob_client, conversation, fake):
    question = Message.objects.create(conversation=conversation, role="user", content="secret")
    reply = Message.objects.create(conversation=conversation, parent=question, role="assistant", content="answer")
    views = [
        ("get", reverse("chat:conversation", args=[conversation.pk])),
        ("post", reverse("chat:send", args=[conversation.pk])),
        ("post", reverse("chat:settings", args=[conversation.pk])),
        ("post", reverse("chat:pin", args=[conversation.pk])),
        ("get", reverse("chat:delete", args=[conversation.pk])),
        ("post", reverse("chat:delete", args=[conversation.pk])),
        ("get", reverse("chat:stream", args=[reply.pk])),
        ("post", reverse("chat:stop", args=[reply.pk])),
        ("post", reverse("chat:regenerate", args=[reply.pk])),
        ("post", reverse("chat:edit", args=[question.pk])),
        ("post", reverse("chat:select", args=[question.pk])),
    ]
    for method, url in views:
        response = getattr(bob_client, method)(url, {"text": "hijack", "title": "hijack", "model": "gpt-4o"})
        assert response.status_code == 404, url
    conversation.refresh_from_db()
    assert conversation.title == "Alice's chat" and not conversation.pinned
    assert conversation.messages.count() == 2
    assert not fake.chat_requests()


def test_anonymous_visitors_are_sent_to_log_in(client, conversation):
    for url in [reverse("chat:home"), reverse("chat:conversation", args=[conversation.pk]), reverse("chat:account")]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Cost of a page ---------------------------------------------------------------------


def _long_conversation(owner, pairs: int) -> Conversation:
    conversation = Conversation.objects.create(owner=owner, model="gpt-4o-mini", title="Long")
    parent = None
    for i in range(pairs):
        question = Message.objects.create(conversation=conversation, parent=parent, role="user", content=f"q{i}")
        parent = Message.objects.create(
            conversation=conversation, parent=question, role="assistant", content=f"a{i}", rendered=f"<p>a{i}</p>"
        )
    conversation.touch(current_leaf=parent)
    return conversation


def test_opening_a_conversation_costs_the_same_queries_for_10_or_500_messages(alice_client, alice):
    small, large = _long_conversation(alice, 5), _long_conversation(alice, 250)
    alice_client.get(reverse("chat:home"))  # the model list is cached from here on
    counts = []
    for conversation in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(reverse("chat:conversation", args=[conversation.pk]))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    page = response.content.decode()
    # Anchored on the markup: the page's fifty random hex client ids hold "a199" one run in forty.
    shown = "<p>a249</p>" in page and "<p>q200</p>" in page and "<p>a199</p>" not in page
    assert shown, "the last 100 messages are shown"
    assert "Show 400 earlier messages" in page
    everything = alice_client.get(reverse("chat:conversation", args=[large.pk]), {"all": "1"}).content.decode()
    assert "a0<" in everything and "earlier message" not in everything


# --- The reply engine's promises -----------------------------------------------------------


def test_a_long_reply_costs_a_bounded_number_of_writes(alice, conversation, fake):
    from chat import replies

    fake.state.reply = " ".join(f"token{i}" for i in range(2000))
    question = Message.objects.create(conversation=conversation, role="user", content="Count to 2000")
    reply = replies._new_reply(conversation, question)
    with CaptureQueriesContext(connection) as queries:
        replies.run(reply, alice)
    writes = [q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "INSERT"))]
    assert reply.status == "complete" and reply.content == fake.state.reply
    assert len(writes) <= 10, writes


@pytest.mark.django_db(transaction=True)
def test_deleting_a_conversation_mid_reply_still_records_the_call(alice_client, alice, conversation, fake):
    fake.state.token_delay = 0.05
    data = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON).json()
    wait_for(lambda: fake.chat_requests() and fake.chat_requests()[0].sent_chunks > 2)
    alice_client.post(reverse("chat:delete", args=[conversation.pk]))
    wait_for(lambda: UsageRecord.objects.exists())
    record = UsageRecord.objects.get()
    # Written just before the delete or after it: either way it counts, and what it was for is gone.
    assert (record.user, record.subject) == (alice, None)
    assert not Message.objects.filter(pk=data["reply"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_stream_follows_a_reply_written_by_another_process(alice_client, conversation):
    """No live reply in this process: the stream follows the database."""
    import threading

    question = Message.objects.create(conversation=conversation, role="user", content="Hi")
    reply = Message.objects.create(
        conversation=conversation, parent=question, role="assistant", status="streaming", content="Hel"
    )
    conversation.touch(current_leaf=reply)
    events: list = []

    def read() -> None:
        try:
            events.extend(events_of(alice_client.get(reverse("chat:stream", args=[reply.pk]))))
        finally:
            connection.close()

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    Message.objects.filter(pk=reply.pk).update(content="Hello, wor")
    time.sleep(0.7)
    Message.objects.filter(pk=reply.pk).update(
        content="Hello, world.", status="complete", rendered="<p>Hello, world.</p>"
    )
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert events[0] == ("snapshot", {"text": "Hel", "html": "<p>Hel</p>\n"})
    text = "Hel" + "".join(e["t"] for name, e in events if name == "delta")
    assert text == "Hello, world."
    assert events[-1][0] == "end" and "<p>Hello, world.</p>" in events[-1][1]["html"]


@pytest.mark.django_db(transaction=True)
def test_two_sends_at_once_start_one_reply(alice, conversation, fake):
    """A double click or two tabs: exactly one reply starts."""
    import threading

    from django.test import Client

    fake.state.token_delay = 0.05
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def send_once() -> None:
        client = Client()
        client.force_login(alice)
        barrier.wait()
        response = client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON)
        statuses.append(response.status_code)

    run_concurrently(send_once, 4)
    assert sorted(statuses) == [200, 409, 409, 409]
    assert conversation.messages.filter(role="user").count() == 1
    wait_for(lambda: not Message.objects.live().exists())


STREAM = {"HTTP_ACCEPT": "text/event-stream, application/json"}


@pytest.mark.django_db(transaction=True)
def test_the_answer_to_a_send_is_the_replys_own_stream(alice_client, conversation, fake):
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **STREAM)
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["X-Accel-Buffering"] == "no"
    events = events_of(response)
    names = [name for name, _ in events]
    assert names[:2] == ["start", "snapshot"] and names[-1] == "end"
    start = events[0][1]
    assert f'id="m{start["reply"]}"' in start["messages"]
    text = "".join(e["t"] for name, e in events if name == "delta")
    assert events[1][1]["text"] + text == fake.state.reply
    assert Message.objects.get(pk=start["reply"]).status == "complete"


@pytest.mark.django_db(transaction=True)
def test_a_new_conversation_streams_its_first_reply_and_says_where_it_lives(alice_client, alice, fake):
    response = alice_client.post(reverse("chat:start"), {"text": "Hello", "model": "gpt-4o-mini"}, **STREAM)
    events = events_of(response)
    conversation = Conversation.objects.get(owner=alice)
    page = events[0][1]["conversation"]
    assert (page["url"], page["send"], page["title"]) == (
        f"/c/{conversation.pk}/",
        f"/c/{conversation.pk}/send",
        "Hello",
    )
    assert f'action="/c/{conversation.pk}/pin"' in page["header"], "the header comes along, Pin and Delete included"
    assert events[-1][0] == "end"


@pytest.mark.django_db(transaction=True)
def test_a_refused_streaming_send_answers_in_json(alice_client, conversation, fake):
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": " "}, **STREAM)
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_two_followers_see_the_same_reply(alice_client, conversation, fake):
    """A second tab (or device) follows the same reply live, from the start."""

    fake.state.token_delay = 0.02
    data = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **JSON).json()
    texts: list[str] = []

    def follow_once() -> None:
        events = events_of(alice_client.get(data["stream"]))
        texts.append(events[0][1]["text"] + "".join(e["t"] for name, e in events if name == "delta"))

    run_concurrently(follow_once, 2)
    assert texts == [fake.state.reply, fake.state.reply]


@pytest.mark.django_db(transaction=True)
def test_a_silent_upstream_gets_keep_alive_comments(alice_client, conversation, fake, settings):
    settings.CHAT_KEEPALIVE_SECONDS = 0.2
    settings.AITRE_STREAM_IDLE_TIMEOUT = 1.2
    fake.script("stall")
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"}, **STREAM)
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("event: start") or body.startswith(": connected")
    assert body.count(": keep-alive") >= 3
    assert "too long" in Message.objects.get(role="assistant").error
