"""A small local server, as a new operator meets it, in headless Chromium."""

import pytest
from playwright.sync_api import expect

from accounts.models import User
from aitre.models import ModelSetting
from chat.models import Conversation, Message
from tests.browser import last_reply, log_in, new_context, send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL = "qwen2.5-0.5b-instruct-q4_k_m.gguf"


def test_a_fresh_install_picks_the_servers_own_model(alice_page, live_server, fake):
    fake.state.model_entries = [{"id": LOCAL, "owned_by": "llamacpp", "meta": {"n_ctx_train": 32768}}]
    fake.state.props = {"default_generation_settings": {"n_ctx": 2048}}
    fake.state.serves = LOCAL
    alice_page.goto(live_server.url + "/")
    picker = alice_page.locator("#id_model")
    expect(picker.locator("option")).to_have_count(1)
    expect(picker).to_have_value(LOCAL)
    send(alice_page, "Hello")
    reply = last_reply(alice_page)
    expect(reply.locator("button.regenerate")).to_be_visible()
    expect(reply.locator(".msg-author")).to_have_text(LOCAL)
    assert fake.chat_requests()[-1].body["max_tokens"] == 512
    assert alice_page.js_errors == []


def test_a_list_that_cannot_be_fetched_is_said_in_the_picker(alice_page, live_server, fake):
    fake.state.list_status = 401
    alice_page.goto(live_server.url + "/")
    expect(alice_page.locator(".model-problem")).to_contain_text("The model list could not be fetched")
    expect(alice_page.locator(".model-problem")).to_contain_text("401")


def test_a_reply_cut_at_the_limit_continues_in_place(alice_page, live_server, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=4)
    fake.state.reply = "One two three four five six seven."
    alice_page.goto(live_server.url + "/")
    send(alice_page, "Count")
    reply = last_reply(alice_page)
    expect(reply.locator(".notice.cut")).to_contain_text("reached the length limit")
    expect(reply.locator(".msg-error")).to_have_count(0)
    expect(reply.locator("button.regenerate")).to_be_visible()
    expect(reply.locator(".msg-body")).to_have_text("One two three four")

    fake.state.reply = " five six seven."
    fake.state.token_delay = 0.05
    reply.locator("button.continue").click()
    reply = last_reply(alice_page)
    expect(reply.locator("button.stop")).to_be_visible()
    expect(reply.locator(".msg-body")).to_have_text("One two three four five six seven.")
    expect(reply.locator("button.regenerate")).to_be_visible()
    expect(reply.locator(".notice.cut")).to_have_count(0)
    assert Message.objects.filter(role="assistant").count() == 1
    assert alice_page.js_errors == []


def test_a_second_tab_shows_the_message_sent_from_the_first_live(context, live_server, alice, conversation, fake):
    log_in(context, live_server, alice)
    first, second = context.pages[0] if context.pages else context.new_page(), context.new_page()
    for tab in (first, second):
        tab.goto(f"{live_server.url}/c/{conversation.pk}/")
        tab.wait_for_selector("html[data-chat-ready]", state="attached")
    fake.state.token_delay = 0.15
    second.bring_to_front()  # the first tab keeps sending while hidden
    send(first, "Sent from the first tab")
    expect(second.locator("article.msg-user .msg-body")).to_have_text("Sent from the first tab")
    # The reply is followed there too, live, to its end.
    expect(last_reply(second).locator("button.stop")).to_be_visible()
    expect(last_reply(second).locator("button.regenerate")).to_be_visible(timeout=15000)
    expect(last_reply(second).locator(".msg-body strong")).to_have_text("greeting")
    assert second.url.endswith(f"/c/{conversation.pk}/"), "no reload, no navigation"
    assert Conversation.objects.get().messages.count() == 2


def test_the_model_settings_list_fits_a_laptop_screen(browser_context_1200, live_server, fake, db):
    context = browser_context_1200
    root = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    fake.state.model_entries = [
        {"id": "gpt-4o-mini-2024-07-18-with-a-long-name", "context_length": 128000},
        {"id": "text-embedding-3-large", "context_length": 8191},
        {"id": "gpt-4o-image", "context_length": 128000},
    ]
    log_in(context, live_server, root)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(f"{live_server.url}/admin/aitre/modelsetting/")
    inputs = page.locator("#result_list td[class^=field-] input:not([type=hidden])")
    expect(inputs.first).to_be_visible()
    assert inputs.count() == 9
    width = page.evaluate("document.documentElement.clientWidth")
    for index in range(inputs.count()):
        box = inputs.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, index
        # Not hidden under the list's scrolling edge either.
        hit = page.evaluate(
            "([x, y]) => { const el = document.elementFromPoint(x, y); return el && el.tagName; }",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert hit == "INPUT", index
    expect(page.locator("td.field-context_in_use").first).to_contain_text("(server)")


@pytest.fixture
def browser_context_1200(playwright_driver):
    yield from new_context(playwright_driver, viewport={"width": 1200, "height": 800})
