"""
The chat as a person uses it, in headless Chromium (Debian's package,
driven by Playwright), against the live server and the fake API.
"""

import itertools
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from accounts.models import User
from chat.models import Conversation, Message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator:
    with sync_playwright() as driver:
        yield driver


def _context(driver, **options) -> Iterator[BrowserContext]:
    profile = tempfile.mkdtemp(prefix="aitre-chromium-")
    context = driver.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=FLAGS, **options
    )
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def context(playwright_driver) -> Iterator[BrowserContext]:
    yield from _context(playwright_driver)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return page


def log_in(context: BrowserContext, live_server, user: User) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def alice_page(page: Page, context: BrowserContext, live_server, alice) -> Page:
    log_in(context, live_server, alice)
    return page


def send(page: Page, text: str) -> None:
    page.wait_for_selector("html[data-chat-ready]", state="attached")
    box = page.locator("#id_text")
    box.fill(text)
    box.press("Enter")


def rendered_html(article) -> str:
    """A message body's HTML as the server rendered it, without the buttons the script adds."""
    return article.locator(".msg-body").evaluate(
        """body => {
            const copy = body.cloneNode(true);
            copy.querySelectorAll('.copy-code').forEach((b) => b.remove());
            return copy.innerHTML;
        }"""
    )


def last_reply(page: Page):
    return page.locator("article.msg-assistant").last


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
    for context in _context(playwright_driver, java_script_enabled=False):
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
    for context in _context(playwright_driver, locale="zh-CN"):
        log_in(context, live_server, alice)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(live_server.url + "/")
        expect(page.locator("button.send")).to_have_text("发送")


# --- Usage ------------------------------------------------------------------------------------------


def _usage_history(owner: User, *models: str) -> Conversation:
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from usage.models import Price, UsageRecord

    Price.objects.create(model="gpt-4o-mini", input_price=Decimal("0.15"), output_price=Decimal("0.60"))
    conversation = Conversation.objects.create(owner=owner, model="gpt-4o-mini", title="Quarterly report")
    for day in range(20):
        for model in models:
            UsageRecord.objects.record(
                user=owner,
                kind="chat",
                model=model,
                subject=conversation,
                prompt_tokens=400 + 30 * day,
                completion_tokens=200,
                total_tokens=600 + 30 * day,
                created_at=timezone.now() - timedelta(days=day),
            )
    return conversation


def _csp_violations(page: Page) -> list[str]:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return violations


def test_the_usage_page_shows_the_period_the_quota_and_a_real_chart(alice_page, live_server, alice):
    from datetime import timedelta

    from django.utils import timezone

    from usage.models import Quota
    from usage.quotas import period_bounds

    Quota.objects.create(measure="tokens", period="month", token_limit=100_000)
    _usage_history(alice, "gpt-4o-mini")
    # What falls in this month depends on today's date: count it, do not assume it.
    start, _ = period_bounds("month", timezone.now())
    used = sum(600 + 30 * day for day in range(20) if timezone.now() - timedelta(days=day) >= start)
    violations = _csp_violations(alice_page)
    alice_page.goto(live_server.url + "/")
    alice_page.click("text=Usage")
    expect(alice_page.locator("h1")).to_have_text("Usage")
    bar = alice_page.locator("progress#quota-bar")
    expect(bar).to_be_visible()
    assert float(bar.get_attribute("value")) == pytest.approx(used / 1000, abs=0.1)
    assert 0 < float(bar.get_attribute("value")) < 100, "a little used shows as a little, never as nothing"
    chart = alice_page.locator("figure.chart svg").first
    box = chart.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 100, "the chart is drawn at a readable size"
    assert chart.locator("rect").count() >= 1
    # Axes and units are text in the picture, not tooltips.
    labels = [label.strip() for label in chart.locator("text").all_text_contents()]
    assert "tokens" in labels and "0" in labels and any(label.endswith("k") for label in labels)
    expect(alice_page.locator("table.data")).to_contain_text("Quarterly report")
    assert not violations and not alice_page.js_errors


def test_an_admin_answers_who_spent_what_from_the_dashboard(page, context, live_server, alice, bob):
    admin = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    conversation = _usage_history(alice, "gpt-4o-mini", "llama-3")
    log_in(context, live_server, admin)
    violations = _csp_violations(page)
    page.goto(live_server.url + "/admin/")
    page.click("text=Usage dashboard")
    expect(page.locator("h1")).to_have_text("Usage dashboard")
    page.click("text=last 7 days")
    expect(page.locator("[data-total=call_count]")).to_have_text("14")
    legend = page.locator(".legend").inner_text()
    assert "gpt-4o-mini" in legend and "llama-3" in legend, "the chart is stacked by model"
    expect(page.locator("#by-model")).to_contain_text("unpriced")

    page.locator("#by-user a", has_text="alice").click()
    expect(page).to_have_url(re.compile(r"user=alice"))
    expect(page.locator("#user-conversations")).to_contain_text(f"Conversation #{conversation.pk} of")
    expect(page.locator("#user-conversations")).not_to_contain_text("Quarterly report")
    expect(page.locator("#user-calls tbody tr")).to_have_count(14)

    with page.expect_download() as download:
        page.click("text=Export CSV")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 14, "the CSV holds exactly what the filters show"
    assert not violations and not page.js_errors


# --- Hostile model output ------------------------------------------------------------------------------


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
    from chat.rendering import render_markdown

    from .xss_payloads import PAYLOADS

    conversation = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Hostile")
    parent = None
    for payload in PAYLOADS:
        # The same text as the user's (shown as text) and as a model's reply (rendered markdown).
        question = Message.objects.create(conversation=conversation, parent=parent, role="user", content=payload)
        parent = Message.objects.create(
            conversation=conversation,
            parent=question,
            role="assistant",
            content=payload,
            rendered=render_markdown(payload),
        )
    conversation.touch(current_leaf=parent)
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
    from .xss_payloads import STREAMED

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


def test_over_the_limit_the_composer_says_so_and_keeps_the_text(alice_page, live_server, alice, conversation, fake):
    from usage.models import Quota, UsageRecord

    Quota.objects.create(measure="tokens", period="month", token_limit=1000)
    UsageRecord.objects.record(
        user=alice, kind="chat", model="gpt-4o-mini", prompt_tokens=900, completion_tokens=100, total_tokens=1000
    )
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    expect(alice_page.locator(".quota-notice")).to_contain_text("You have reached your usage limit for this month.")
    send(alice_page, "Please answer anyway")
    error = alice_page.locator(".composer-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("1,000 tokens used of 1,000 tokens")
    expect(error).to_contain_text("It resets on")
    expect(alice_page.locator("#id_text")).to_have_value("Please answer anyway")
    assert alice_page.locator("article.msg").count() == 0
    assert not fake.chat_requests()


def test_a_locked_out_login_says_for_how_long(page, live_server, alice, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    page.goto(live_server.url + "/accounts/login/")
    for password in ["wrong-1", "wrong-2", "alice-password-1"]:
        page.fill("#id_username", "alice")
        page.fill("#id_password", password)
        page.click("button[type=submit]")
    expect(page.locator("p.error")).to_have_text("Too many failed attempts to log in. Try again in 15 minutes.")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


# --- Following a reply: what the reader sees while it streams ----------------------------

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
    fake.state.first_token_delay = 4.5
    alice_page.goto(f"{live_server.url}/c/{conversation.pk}/")
    send(alice_page, "Take your time")
    reply = last_reply(alice_page)
    question = alice_page.locator("article.msg-user").last
    expect(reply.locator("button.stop")).to_be_visible()
    expect(question.locator("details.edit")).to_be_hidden()
    expect(reply.locator(".waiting")).to_be_hidden()
    expect(reply.locator(".waiting")).to_have_text("Waiting for the API to answer…", timeout=4_000)
    expect(reply.locator(".waiting")).to_be_visible()
    expect(reply.locator("button.regenerate")).to_be_visible(timeout=15_000)
    expect(alice_page.locator("article.msg-user").last.locator("details.edit")).to_be_visible()
