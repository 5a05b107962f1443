"""The chat as a person uses it, in headless Chromium."""

import itertools
import re
import threading

import pytest
from playwright.sync_api import Page, expect

from chat.models import Conversation, Message
from tests.browser import last_reply, log_in, new_context, rendered_html, send
from tests.helpers import hostile_conversation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_log_in_send_and_watch_the_reply_stream_in(page, live_server, alice, fake):
    fake.state.token_delay = 0.04
    page.goto(live_server.url + "/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("What can I help with?")

    send(page, "Show me some code")
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("h1.conversation-title")).to_have_text("Show me some code")
    reply = last_reply(page)
    # While it streams: part of the text, and a Stop button.
    expect(reply.locator("button.stop")).to_be_visible()
    expect(reply.locator(".msg-body")).to_contain_text("Hello!")
    assert "returns a" not in reply.locator(".msg-body").inner_text()
    # Finished: markdown with highlighted code and a copy button.
    expect(reply.locator("button.regenerate")).to_be_visible()
    expect(reply.locator(".msg-body strong")).to_have_text("greeting")
    expect(reply.locator("pre .hl-k").first).to_have_text("def")
    expect(reply.locator("pre button.copy-code")).to_be_visible()
    streamed_html = reply.locator(".msg-body").inner_html()

    page.reload()
    assert last_reply(page).locator(".msg-body").inner_html() == streamed_html
    assert page.js_errors == []


def test_enter_sends_and_shift_enter_adds_a_line(alice_page, live_server, conversation, fake):
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    box = alice_page.locator("#id_text")
    box.type("line one")
    box.press("Shift+Enter")
    box.type("line two")
    assert box.input_value() == "line one\nline two"
    box.press("Enter")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible()
    assert conversation.messages.get(role="user").content == "line one\nline two"
    expect(box).to_have_value("")


def test_a_reload_mid_reply_reattaches_to_the_live_stream(alice_page, live_server, conversation, fake):
    fake.state.token_delay = 0.06
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "Hi")
    expect(last_reply(alice_page).locator(".msg-body")).to_contain_text("Here")
    alice_page.reload()
    reply = last_reply(alice_page)
    expect(reply.locator("button.regenerate")).to_be_visible()
    message = conversation.messages.get(role="assistant")
    assert message.status == "complete"
    assert message.content == fake.state.reply
    assert rendered_html(reply) == message.rendered


def test_stop_keeps_the_partial_text(alice_page, live_server, conversation, fake):
    fake.state.token_delay = 0.1
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "Hi")
    reply = last_reply(alice_page)
    expect(reply.locator(".msg-body")).to_contain_text("Here")
    reply.locator("button.stop").click()
    expect(last_reply(alice_page).locator(".badge")).to_have_text("Stopped")
    message = conversation.messages.get(role="assistant")
    assert message.status == "stopped"
    assert message.content and message.content != fake.state.reply
    assert "greeting" not in last_reply(alice_page).inner_text()


def test_regenerate_then_flip_between_versions(alice_page, live_server, conversation, fake):
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "Hi")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible()
    fake.state.reply = "The second version."
    last_reply(alice_page).locator("button.regenerate").click()
    reply = last_reply(alice_page)
    expect(reply.locator(".msg-body")).to_have_text("The second version.")
    expect(reply.locator(".version-label")).to_have_text("2 / 2")
    reply.locator("button[aria-label='Previous version']").click()
    expect(last_reply(alice_page).locator(".version-label")).to_have_text("1 / 2")
    expect(last_reply(alice_page).locator(".msg-body")).to_contain_text("Hello!")


def test_edit_and_resend_keeps_the_old_version(alice_page, live_server, conversation, fake):
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "What is 2+2?")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible()
    question = alice_page.locator("article.msg-user").last
    question.locator("details.edit summary").click()
    question.locator("textarea").fill("What is 3+3?")
    question.locator("button[type=submit]").click()
    expect(alice_page.locator("article.msg-user .msg-body")).to_have_text("What is 3+3?")
    expect(alice_page.locator("article.msg-user .version-label")).to_have_text("2 / 2")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible()
    alice_page.locator("article.msg-user button[aria-label='Previous version']").click()
    expect(alice_page.locator("article.msg-user .msg-body")).to_have_text("What is 2+2?")


def test_an_upstream_error_shows_with_retry_and_keeps_the_text(alice_page, live_server, conversation, fake):
    fake.script("500")
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "Please keep this")
    error = last_reply(alice_page).locator(".msg-error")
    expect(error).to_contain_text("The API failed (500)")
    expect(alice_page.locator("article.msg-user .msg-body")).to_have_text("Please keep this")
    error.locator("button.retry").click()
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible()
    expect(last_reply(alice_page).locator(".msg-error")).to_have_count(0)
    assert list(Message.objects.values_list("status", flat=True).order_by("pk")) == ["complete", "error", "complete"]


def test_a_failed_send_keeps_the_typed_text(alice_page, live_server, conversation, fake):
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    alice_page.locator("#id_text").fill("x" * 100_001)
    alice_page.locator("#id_text").press("Enter")
    expect(alice_page.locator(".composer-error")).to_contain_text("at most 100000 characters")
    assert len(alice_page.locator("#id_text").input_value()) == 100_001
    alice_page.reload()
    assert len(alice_page.locator("#id_text").input_value()) == 100_001, "the draft survives a reload"


def test_someone_elses_conversation_is_not_found(alice_page, live_server, bob, fake):
    bobs = Conversation.objects.create(owner=bob, model="gpt-4o-mini", title="Bob's secret")
    response = alice_page.goto(f"{live_server.url}/c/{bobs.pk}/")
    assert response is not None and response.status == 404
    expect(alice_page.locator("h1")).to_have_text("Not found")
    assert "Bob's secret" not in alice_page.content()


def test_without_javascript_the_form_still_works(playwright_driver, live_server, alice, conversation, fake):
    for context in new_context(playwright_driver, java_script_enabled=False):
        log_in(context, live_server, alice)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{live_server.url}/c/{conversation.pk}/")
        page.fill("#id_text", "No script here")
        page.click("button.send")
        expect(page.locator("article.msg-assistant .msg-body strong")).to_have_text("greeting")
        assert conversation.messages.get(role="assistant").status == "complete"


def test_the_language_can_be_switched_to_chinese(alice_page, live_server, fake):
    alice_page.goto(live_server.url + "/")
    alice_page.select_option("#language", "zh-hans")
    expect(alice_page.locator("a.new-chat")).to_contain_text("新对话")
    expect(alice_page.locator("button.send")).to_have_text("发送")


def test_the_language_follows_the_browser(playwright_driver, live_server, alice, fake):
    for context in new_context(playwright_driver, locale="zh-CN"):
        log_in(context, live_server, alice)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(live_server.url + "/")
        expect(page.locator("button.send")).to_have_text("发送")


def _watch_for_attacks(page: Page, live_server) -> dict[str, list[str]]:
    """Dialogs, requests leaving the site, and CSP reports: each one an attack that worked, or nearly."""
    seen: dict[str, list[str]] = {"dialogs": [], "requests": [], "csp": []}
    own = live_server.url

    def on_dialog(dialog) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda r: seen["requests"].append(r.url) if not r.url.startswith(own) else None)
    page.on("console", lambda m: seen["csp"].append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def test_hostile_stored_replies_render_inert_in_the_browser(alice_page, live_server, alice):
    conversation = hostile_conversation(alice)
    seen = _watch_for_attacks(alice_page, live_server)
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    # Everything a handler might hang on gets its event.
    alice_page.evaluate(
        """() => document.querySelectorAll('.msg-body *').forEach((el) => {
            for (const type of ['mouseover', 'mouseenter', 'focus', 'toggle', 'load', 'error']) {
                el.dispatchEvent(new Event(type));
            }
        })"""
    )
    alice_page.wait_for_timeout(500)
    assert seen == {"dialogs": [], "requests": [], "csp": []}
    assert alice_page.locator(".msg-body script, .msg-body iframe, .msg-body [onerror]").count() == 0
    assert not alice_page.js_errors


def test_a_hostile_reply_streamed_in_pieces_renders_inert(alice_page, live_server, conversation, fake):
    from tests.xss_payloads import STREAMED

    # Word by word: tags arrive split across chunks.
    fake.state.reply = STREAMED
    fake.state.token_delay = 0.002
    seen = _watch_for_attacks(alice_page, live_server)
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "Say something nasty")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible(timeout=20_000)
    alice_page.wait_for_timeout(300)
    assert seen == {"dialogs": [], "requests": [], "csp": []}
    body = last_reply(alice_page).locator(".msg-body")
    expect(body).to_contain_text("<script>alert(1)</script>")  # shown as text, not run
    assert body.locator("script, iframe, img, [onerror], [style]").count() == 0
    assert not alice_page.js_errors


WATCH_THE_REPLY = """() => {
    window.__seen = [];
    const record = () => {
        const bodies = document.querySelectorAll('#thread article.msg-assistant .msg-body');
        if (bodies.length) window.__seen.push(bodies[bodies.length - 1].innerText);
    };
    new MutationObserver(record).observe(document.getElementById('thread'),
        {subtree: true, childList: true, characterData: true});
}"""


def _normalised(text: str) -> str:
    return " ".join(text.split())


def test_the_text_shown_while_a_reply_streams_is_always_a_prefix_of_the_reply(
    alice_page, live_server, conversation, fake
):
    # A server that ends each word with its space, and paragraphs: a render
    # can stop after a space or a blank line, which the HTML trims.
    paragraphs = [[f"p{p}w{i}" for i in range(30)] for p in range(4)]
    fake.state.pieces = [piece for words in paragraphs for piece in [*(w + " " for w in words), "\n\n"]]
    fake.state.reply = "".join(fake.state.pieces)
    fake.state.token_delay = 0.02
    streams: list[str] = []
    alice_page.on("request", lambda request: streams.append(request.url) if "/stream" in request.url else None)
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    alice_page.evaluate(WATCH_THE_REPLY)
    send(alice_page, "Four paragraphs, please")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible(timeout=20_000)

    final = _normalised(last_reply(alice_page).locator(".msg-body").inner_text())
    assert final == _normalised(fake.state.reply)
    seen = [_normalised(text) for text in alice_page.evaluate("window.__seen")]
    assert len(seen) > 10, "the reply was watched while it streamed"
    for shown in seen:
        assert final.startswith(shown), f"words ran together or changed: {shown[-60:]!r}"
    assert all(len(a) <= len(b) for a, b in itertools.pairwise(seen)), "the text never shrinks"
    assert streams == [], "the send's own response is the reply's one stream"
    assert alice_page.js_errors == []


def test_a_reload_mid_reply_follows_it_through_one_stream(alice_page, live_server, conversation, fake):
    fake.state.reply = " ".join(f"word{i}" for i in range(80))
    fake.state.token_delay = 0.05
    streams: list[str] = []
    alice_page.on("request", lambda request: streams.append(request.url) if "/stream" in request.url else None)
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "Count for me")
    expect(last_reply(alice_page).locator(".msg-body")).to_contain_text("word3")
    alice_page.reload()
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible(timeout=20_000)
    assert _normalised(last_reply(alice_page).locator(".msg-body").inner_text()) == fake.state.reply
    assert len(streams) == 1, "after a reload, one stream re-attaches"


def test_a_long_silence_says_the_site_is_waiting_and_edit_waits_for_the_reply(
    alice_page, live_server, conversation, fake
):
    # The API says nothing until the test lets it: however slow the machine, the notice has its moment.
    fake.state.hold, fake.state.hold_after = threading.Event(), 0
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "Take your time")
    reply = last_reply(alice_page)
    question = alice_page.locator("article.msg-user").last
    expect(reply.locator("button.stop")).to_be_visible()
    expect(question.locator("details.edit")).to_be_hidden()
    expect(reply.locator(".waiting")).to_be_hidden()
    expect(reply.locator(".waiting")).to_have_text("Waiting for the API to answer…")
    expect(reply.locator(".waiting")).to_be_visible()
    fake.state.hold.set()
    expect(reply.locator("button.regenerate")).to_be_visible()
    expect(alice_page.locator("article.msg-user").last.locator("details.edit")).to_be_visible()


@pytest.mark.parametrize(
    ("text", "upto", "shown", "never"),
    [
        ("Intro.\n\nThis is **bold", 8, "This is bold", "**"),
        ("Intro.\n\nSee [the guide](https://example.org/gu", 8, "See the guide", "]("),
        ("Intro.\n\nUse `pip install", 8, "Use pip install", "`"),
        ("Intro.\n\nSee [the gui", 8, "See the gui", "["),
    ],
)
def test_text_not_yet_rendered_shows_no_markdown_marks(alice_page, live_server, conversation, text, upto, shown, never):
    """Between two renders, '**', '[link](…)' and '`' flashed on screen for ~0.3 s."""
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    painted = alice_page.evaluate(
        """async ([text, upto]) => {
            const { paintTail } = await import("/static/chat/follow.js");
            const body = document.createElement("div");
            body.innerHTML = "<p>Intro.</p>";
            paintTail(body, text, upto);
            return body.textContent;
        }""",
        [text, upto],
    )
    assert shown in painted and never not in painted.replace("Intro.", "")


def test_text_after_a_closing_fence_is_not_drawn_inside_the_code_block(alice_page, live_server, conversation):
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    text = "```python\nprint(1)\n"
    tail = "print(2)\n```\n\nAfter the **code**."
    placed = alice_page.evaluate(
        """async ([text, tail]) => {
            const { paintTail } = await import("/static/chat/follow.js");
            const body = document.createElement("div");
            body.innerHTML = '<pre><code class="language-python">print(1)\\n</code></pre>';
            paintTail(body, text + tail, text.length);
            return { code: body.querySelector("pre").textContent, after: body.lastElementChild.outerHTML };
        }""",
        [text, tail],
    )
    assert "After" not in placed["code"] and "print(2)" in placed["code"] and "```" not in placed["code"]
    assert placed["after"] == '<p class="stream-tail">After the code.</p>'
