"""The completions playground over HTTP, against the fake API's /v1/completions."""

import json

import pytest
from django.urls import reverse

from playground.models import CompletionRun
from tests.helpers import JSON
from usage.models import Price, UsageRecord

STREAM = {"HTTP_ACCEPT": "text/event-stream, application/json"}
MODEL = "gpt-3.5-turbo-instruct"


def events_of(response) -> list[tuple[str, dict]]:
    body = b"".join(response.streaming_content).decode()
    found = []
    for block in body.split("\n\n"):
        lines = block.splitlines()
        if len(lines) >= 2:
            found.append((lines[0].removeprefix("event: "), json.loads(lines[1].removeprefix("data: "))))
    return found


def text_of(events, index: str = "0") -> str:
    return "".join(data["choices"].get(index, "") for name, data in events if name == "text")


@pytest.fixture
def priced(db) -> None:
    Price.objects.create(model=MODEL, unit=Price.Unit.TOKENS, input_price="1.5", output_price="2")


def test_a_completion_streams_after_the_prompt_and_is_kept_with_its_usage(alice, alice_client, fake, priced):
    response = alice_client.post(
        reverse("playground:start"),
        {"model": MODEL, "prompt": "Once upon a time,", "max_tokens": 5, "temperature": "0.7", "stop": "forty"},
        **STREAM,
    )
    assert response["Content-Type"].startswith("text/event-stream")
    events = events_of(response)
    assert events[0][0] == "start" and events[-1][0] == "done"
    run = CompletionRun.objects.get()
    assert text_of(events) == run.text == " and the lighthouse keeper lit"
    assert (run.status, run.finish_reason, run.owner) == ("complete", "length", alice)
    [call] = fake.completion_requests()
    assert call.body["prompt"] == "Once upon a time," and call.body["stream"] is True
    assert (call.body["max_tokens"], call.body["temperature"], call.body["stop"]) == (5, 0.7, ["forty"])
    assert "n" not in call.body and "suffix" not in call.body  # unset parameters are not sent
    record = UsageRecord.objects.get()
    assert (record.kind, record.model, record.user, record.subject) == ("completion", MODEL, alice, run)
    assert (record.prompt_tokens, record.completion_tokens) == (run.prompt_tokens, run.completion_tokens) == (4, 5)
    assert record.cost > 0 and not record.estimated
    done = events[-1][1]
    assert done["cut"] and done["prompt_tokens"] == 4


def test_stop_sequences_echo_choices_and_log_probabilities(alice_client, fake):
    response = alice_client.post(
        reverse("playground:start"),
        {"model": MODEL, "prompt": "P:", "max_tokens": 50, "stop": "lamp", "n": 2, "logprobs": 2, "echo": "on"},
        **STREAM,
    )
    events = events_of(response)
    run = CompletionRun.objects.get()
    # Cut before the stop sequence; the echoed prompt is not repeated in the editor.
    assert run.outputs[0] == " and the lighthouse keeper lit the " and run.finish_reason == "stop"
    assert text_of(events) == run.outputs[0]
    assert len(run.outputs) == 2 and text_of(events, "1") == run.outputs[1]
    assert run.logprobs["tokens"][0] == "P:" and len(run.logprobs["top_logprobs"][1]) == 2
    page = alice_client.get(run.get_absolute_url()).content.decode()
    token, value, likeliest = run.logprob_rows[2]
    assert (token, value) == (" the", -0.2) and likeliest == "' the' -0.20, ' alt0' -1.00"
    assert "<code> the</code></td><td>-0.200</td>" in page
    assert fake.completion_requests()[0].body["echo"] is True


def test_without_javascript_the_whole_run_then_its_page(alice_client, fake):
    response = alice_client.post(reverse("playground:start"), {"model": MODEL, "prompt": "Hello", "max_tokens": 3})
    run = CompletionRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    page = alice_client.get(run.get_absolute_url()).content.decode()
    assert "Hello" in page and "the lighthouse" in page and 'class="generated"' in page


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("temperature", "2.5", "Temperature"),
        ("top_p", "-0.1", "Top P"),
        ("presence_penalty", "3", "Presence penalty"),
        ("frequency_penalty", "x", "Frequency penalty"),
        ("max_tokens", "0", "Maximum tokens"),
        ("n", "9", "Completions"),
        ("logprobs", "6", "Log probabilities"),
        ("seed", "-1", "Seed"),
        ("stop", "a\nb\nc\nd\ne", "four stop sequences"),
        ("prompt", "   ", "Write a prompt"),
        ("model", "gpt-4o-mini", "Model"),  # a chat model is not offered here
    ],
)
def test_every_parameter_is_checked_with_a_clear_message(alice_client, fake, field, value, words):
    data = {"model": MODEL, "prompt": "Hi", field: value}
    response = alice_client.post(reverse("playground:start"), data, **JSON)
    assert response.status_code == 400 and words in response.json()["error"]
    assert not CompletionRun.objects.exists() and not fake.completion_requests()


def test_an_upstream_error_is_shown_and_the_prompt_kept(alice_client, fake):
    fake.state.models.append("fake-429")
    from aitre.models import ModelSetting

    ModelSetting.objects.create(name="fake-429", capabilities=["completions"])
    response = alice_client.post(reverse("playground:start"), {"model": "fake-429", "prompt": "Keep me"}, **STREAM)
    assert response.status_code == 429 and "rate limiting" in response.json()["error"]
    assert response["Retry-After"] == "3"
    run = CompletionRun.objects.get()
    assert (run.status, run.prompt) == ("error", "Keep me") and not UsageRecord.objects.exists()
    # Without JavaScript: the page again, with the message and the prompt.
    response = alice_client.post(
        reverse("playground:start"), {"model": "fake-429", "prompt": "Keep me too"}, follow=True
    )
    page = response.content.decode()
    assert "rate limiting" in page and "Keep me too" in page


def test_a_stream_cut_mid_way_keeps_the_text_and_records_what_was_used(alice_client, fake):
    from aitre.models import ModelSetting

    fake.state.models.append("fake-cut")
    ModelSetting.objects.create(name="fake-cut", capabilities=["completions"])
    events = events_of(
        alice_client.post(
            reverse("playground:start"), {"model": "fake-cut", "prompt": "Go", "max_tokens": 10}, **STREAM
        )
    )
    run = CompletionRun.objects.get()
    assert run.status == "error" and run.text and text_of(events) == run.text
    assert events[-1][1]["error"]
    record = UsageRecord.objects.get()
    assert record.estimated and not record.succeeded


def test_stop_from_another_request_ends_the_run_with_its_text(alice_client, fake):
    from aitre.models import ModelSetting

    fake.state.models.append("fake-slow")
    fake.state.slow_token_delay = 0.2
    ModelSetting.objects.create(name="fake-slow", capabilities=["completions"])
    response = alice_client.post(
        reverse("playground:start"), {"model": "fake-slow", "prompt": "Go", "max_tokens": 40}, **STREAM
    )
    stream = iter(response.streaming_content)
    next(stream)  # start
    next(stream)  # the first text
    run = CompletionRun.objects.get()
    assert alice_client.post(reverse("playground:stop", args=[run.pk]), **JSON).json() == {"stopped": True}
    rest = b"".join(stream).decode()
    run.refresh_from_db()
    assert run.status == "stopped" and run.text and '"status": "stopped"' in rest
    assert len(run.text.split()) < 40
    assert UsageRecord.objects.get().estimated


def test_runs_are_reopened_renamed_and_deleted_by_their_owner_only(alice_client, bob_client, fake):
    alice_client.post(reverse("playground:start"), {"model": MODEL, "prompt": "Mine", "max_tokens": 2})
    run = CompletionRun.objects.get()
    for url in ("playground:stop", "playground:rename", "playground:delete"):
        assert bob_client.post(reverse(url, args=[run.pk]), {"title": "x"}).status_code == 404
    assert bob_client.get(run.get_absolute_url()).status_code == 404
    assert "Mine" not in bob_client.get(reverse("playground:page")).content.decode()
    alice_client.post(reverse("playground:rename", args=[run.pk]), {"title": "  Lighthouse   story "})
    run.refresh_from_db()
    assert run.title == "Lighthouse story"
    assert (
        alice_client.post(reverse("playground:rename", args=[run.pk]), {"title": "x" * 201}, **JSON).status_code == 400
    )
    page = alice_client.get(run.get_absolute_url()).content.decode()
    assert "Lighthouse story" in page and 'name="max_tokens" value="2"' in page
    alice_client.post(reverse("playground:delete", args=[run.pk]))
    assert not CompletionRun.objects.exists()


def test_a_run_whose_process_died_is_shown_as_interrupted(alice, alice_client, fake):
    from datetime import timedelta

    from django.utils import timezone

    run = CompletionRun.objects.create(owner=alice, model=MODEL, prompt="Lost", status="running")
    CompletionRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    page = alice_client.get(run.get_absolute_url()).content.decode()
    run.refresh_from_db()
    assert run.status == "error" and "interrupted" in run.error and "interrupted" in page
    assert not UsageRecord.objects.exists()


def test_runs_streaming_count_against_the_quota(alice, alice_client, fake):
    from usage.models import Quota
    from usage.quotas import status_for

    Quota.objects.create(user=alice, measure=Quota.Measure.TOKENS, period=Quota.Period.DAY, token_limit=1000)
    CompletionRun.objects.create(
        owner=alice, model=MODEL, prompt="one two three", params={"max_tokens": 600, "n": 2}, status="running"
    )
    response = alice_client.post(reverse("playground:start"), {"model": MODEL, "prompt": "Hi"}, **JSON)
    assert response.status_code == 429 and response["Retry-After"]
    assert CompletionRun.objects.count() == 1 and not fake.completion_requests()
    assert status_for(alice) is not None


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"prompt": "x" * 2_000_000}, "2,000,000 characters"),
        ({"prompt": "Once", "suffix": "y" * 200_000}, "200,004 characters"),
        ({"prompt": "Once", "stop": "z" * 200_000}, "200,004 characters"),
    ],
)
def test_text_over_the_limit_is_refused_on_the_server_whatever_the_field(alice_client, fake, fields, words):
    """A 2,000,000-character prompt went upstream and was billed 400,000 prompt tokens."""
    response = alice_client.post(reverse("playground:start"), {"model": MODEL, **fields}, **JSON)
    assert response.status_code == 400
    assert words in response.json()["error"] and "100,000" in response.json()["error"]
    assert not fake.completion_requests() and not CompletionRun.objects.exists()


def test_a_prompt_longer_than_the_models_context_is_refused_before_any_call(alice_client, fake):
    from aitre.models import ModelSetting

    ModelSetting.objects.create(name=MODEL, capabilities=["completions"], context_tokens=4096, max_tokens=1024)
    prompt = "The lighthouse keeper wrote another line in the log. " * 800
    response = alice_client.post(reverse("playground:start"), {"model": MODEL, "prompt": prompt}, **JSON)
    assert response.status_code == 400 and "too long for" in response.json()["error"]
    fits = "The lighthouse keeper wrote. " * 400
    response = alice_client.post(
        reverse("playground:start"), {"model": MODEL, "prompt": fits, "max_tokens": 4000}, **JSON
    )
    assert response.status_code == 400 and "Maximum tokens" in response.json()["error"]
    assert not fake.completion_requests() and not CompletionRun.objects.exists()
