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
from sharing import snapshots
from sharing.models import ShareLink
from tests.browser import AXE, axe_violations, log_in, send

AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"


def test_axe_is_the_vendored_copy():
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256


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
    "/transfer/",
    "/shares/",
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_of_a_user(page, context, live_server, alice, chat_with_history, theme):
    alice.theme = theme
    alice.save()
    log_in(context, live_server, alice)
    found = {}
    link = ShareLink.objects.create(owner=alice, conversation=chat_with_history, title="Colours", model="gpt-4o-mini")
    conversation = chat_with_history.get_absolute_url()
    pages = [*ALICE_PAGES, conversation, f"{conversation}share", f"{conversation}delete", link.get_absolute_url()]
    for path in pages:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        assert page.evaluate("() => document.documentElement.dataset.theme") == theme
        if violations := axe_violations(page):
            found[path] = violations
    page.goto(f"{live_server.url}{conversation}")
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


def test_the_login_page_a_missing_one_and_a_shared_one(page, live_server, chat_with_history):
    link = snapshots.share(chat_with_history, audience="anyone", expires_in="", include_system_prompt=False)
    found = {}
    for path in ["/accounts/login/", "/no-such-page/", link.get_absolute_url()]:
        page.goto(f"{live_server.url}{path}")
        if violations := axe_violations(page):
            found[path] = violations
    page.emulate_media(color_scheme="dark")
    for path in ["/accounts/login/", link.get_absolute_url()]:
        page.goto(f"{live_server.url}{path}")
        if violations := axe_violations(page):
            found[f"{path}, dark system"] = violations
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
