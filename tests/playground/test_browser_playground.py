"""The completions playground as a person uses it, in headless Chromium."""

import re

import pytest
from playwright.sync_api import expect

from aitre.models import ModelSetting
from playground.models import CompletionRun
from tests.browser import csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_playground(page, live_server):
    page.goto(live_server.url + "/playground/")
    page.wait_for_selector("html[data-playground-ready]", state="attached")


def test_write_stream_continue_from_the_edited_text(alice_page, live_server, fake):
    violations = csp_violations(alice_page)
    open_playground(alice_page, live_server)
    editor = alice_page.locator("#pg-editor")
    editor.fill("The keeper")
    alice_page.fill("#id_max_tokens", "4")
    alice_page.click("#pg-submit")
    generated = editor.locator("mark.generated")
    expect(generated).to_have_text(" and the lighthouse keeper")
    expect(alice_page.locator("#pg-status")).to_contain_text("Complete")
    expect(alice_page.locator("#pg-status")).to_contain_text("Stopped at the token limit")
    first = CompletionRun.objects.get()
    expect(alice_page).to_have_url(re.compile(rf"/playground/r/{first.pk}/$"))
    expect(alice_page.locator("#pg-history .pg-run.current a")).to_have_text("The keeper")

    # Edit the end of what was written, and go on from there.
    editor.click()
    alice_page.keyboard.press("Control+End")
    alice_page.keyboard.type(" smiled,")
    alice_page.keyboard.press("Control+Enter")
    expect(alice_page.locator("#pg-status")).to_contain_text("Complete")
    second = CompletionRun.objects.latest("pk")
    assert second.prompt == "The keeper and the lighthouse keeper smiled,"
    assert fake.completion_requests()[-1].body["prompt"] == second.prompt
    expect(editor.locator("mark.generated")).to_have_text(" and the lighthouse keeper")
    expect(editor).to_contain_text("The keeper and the lighthouse keeper smiled, and the lighthouse keeper")

    # Reopened: the prompt and its completion, marked, with the parameters it ran with.
    alice_page.reload()
    alice_page.wait_for_selector("html[data-playground-ready]", state="attached")
    expect(editor.locator("mark.generated")).to_have_text(" and the lighthouse keeper")
    expect(alice_page.locator("#id_max_tokens")).to_have_value("4")
    assert alice_page.js_errors == [] and violations == []


def test_stop_keeps_what_was_written_and_errors_keep_the_prompt(alice_page, live_server, fake):
    for name in ("fake-slow", "fake-500"):
        fake.state.models.append(name)
        ModelSetting.objects.create(name=name, capabilities=["completions"])
    fake.state.slow_token_delay = 0.3
    open_playground(alice_page, live_server)
    editor = alice_page.locator("#pg-editor")
    editor.fill("Slowly,")
    alice_page.select_option("#id_model", "fake-slow")
    alice_page.fill("#id_max_tokens", "40")
    alice_page.click("#pg-submit")
    expect(editor.locator("mark.generated")).to_contain_text("the")
    alice_page.click("#pg-stop")
    expect(alice_page.locator("#pg-status")).to_contain_text("Stopped")
    expect(alice_page.locator("#pg-stop")).to_be_hidden()
    run = CompletionRun.objects.get()
    assert run.status == "stopped" and 0 < len(run.text.split()) < 15
    expect(editor.locator("mark.generated")).to_have_text(run.text)

    # A refusal from the API: said in the page, the text as it was.
    before = editor.inner_text()
    alice_page.select_option("#id_model", "fake-500")
    alice_page.click("#pg-submit")
    expect(alice_page.locator("#pg-error")).to_contain_text("API")
    assert editor.inner_text() == before
    # A bad parameter: the server's sentence, nothing sent.
    calls = len(fake.completion_requests())
    alice_page.fill("#id_temperature", "")
    alice_page.evaluate("document.querySelector('#id_temperature').removeAttribute('max')")
    alice_page.fill("#id_temperature", "7")
    alice_page.click("#pg-submit")
    expect(alice_page.locator("#pg-error")).to_contain_text("Temperature")
    assert len(fake.completion_requests()) == calls
    assert alice_page.js_errors == []
