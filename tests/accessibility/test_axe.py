"""
axe-core on every page, in both themes: no serious or critical violations
(the rules left out, and why, are in tests/browser.AXE_DISABLED). A reply is
checked while it streams and after it finished; the admin's pages in the
admin's own theme.
"""

import hashlib

import pytest
from playwright.sync_api import expect

from accounts.models import User
from chat.models import Conversation, Message
from chat.rendering import render_markdown
from tests.browser import AXE, axe_violations, log_in, send

AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"

REPLY = """Here is a table and some code:

| Model | Tokens |
|-------|--------|
| gpt-4o-mini | 12 |

```python
def greet(name: str) -> str:
    # Say hello.
    return f"Hello, {name}!"  # 42
```
"""


def test_axe_is_the_vendored_copy():
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256


@pytest.fixture
def chat_with_history(alice: User) -> Conversation:
    conversation = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Colours")
    question = Message.objects.create(conversation=conversation, role="user", content="Show me a table and code")
    first = Message.objects.create(
        conversation=conversation, parent=question, role="assistant", content="An older version.", model="gpt-4o-mini"
    )
    reply = Message.objects.create(
        conversation=conversation,
        parent=question,
        role="assistant",
        content=REPLY,
        rendered=render_markdown(REPLY),
        model="gpt-4o-mini",
        prompt_tokens=10,
        completion_tokens=30,
        total_tokens=40,
    )
    assert first.pk < reply.pk
    conversation.current_leaf = reply
    conversation.save()
    return conversation


ALICE_PAGES = [
    "/",
    "/settings/",
    "/usage/",
    "/studio/",
    "/audio/",
    "/mj/",
    "/playground/",
    "/library/",
    "/jobs/",
    "/search/?q=table",
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_of_a_user(page, context, live_server, alice, chat_with_history, theme):
    alice.theme = theme
    alice.save()
    log_in(context, live_server, alice)
    found = {}
    for path in [*ALICE_PAGES, chat_with_history.get_absolute_url()]:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        assert page.evaluate("() => document.documentElement.dataset.theme") == theme
        if violations := axe_violations(page):
            found[path] = violations
    page.locator(".shortcuts-open").click()
    expect(page.locator("dialog#shortcuts")).to_be_visible()
    if violations := axe_violations(page):
        found["shortcuts dialog"] = violations
    assert not found, found


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_reply_while_it_streams_and_after(page, context, live_server, alice, conversation, fake, theme):
    alice.theme = theme
    alice.save()
    fake.state.token_delay = 0.15
    log_in(context, live_server, alice)
    page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    send(page, "Hi")
    reply = page.locator("article.msg-assistant").last
    expect(reply.locator("button.stop")).to_be_visible()
    expect(reply.locator(".msg-body")).to_contain_text("Here")
    streaming = axe_violations(page)
    expect(reply.locator("button.regenerate")).to_be_visible(timeout=20_000)
    assert (streaming, axe_violations(page)) == ([], [])


def test_the_login_page_and_a_missing_one(page, live_server, db):
    found = {}
    for path in ["/accounts/login/", "/no-such-page/"]:
        page.goto(f"{live_server.url}{path}")
        if violations := axe_violations(page):
            found[path] = violations
    page.emulate_media(color_scheme="dark")
    page.goto(f"{live_server.url}/accounts/login/")
    if violations := axe_violations(page):
        found["login, dark system"] = violations
    assert not found, found


def test_the_admin_pages(page, context, live_server, chat_with_history):
    root = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    log_in(context, live_server, root)
    found = {}
    for path in ["/admin/", "/admin/usage/usagerecord/dashboard/", "/admin/chat/conversation/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        if violations := axe_violations(page):
            found[path] = violations
    assert not found, found
