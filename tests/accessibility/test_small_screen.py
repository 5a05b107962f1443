"""
A phone-sized screen (375 × 667): the sidebar is a drawer, the composer
stays at the bottom, wide things scroll inside themselves.
"""

import pytest
from playwright.sync_api import expect

from chat.models import Message
from tests.browser import last_reply, log_in, new_context, send

COLUMNS = range(14)
WIDE = (
    "Here:\n\n```python\nx = "
    + " + ".join(["1"] * 120)
    + "\n```\n\n"
    + "| "
    + " | ".join(f"column {i}" for i in COLUMNS)
    + " |\n"
    + "|"
    + "---|" * len(COLUMNS)
    + "\n"
    + "| "
    + " | ".join(str(i) for i in COLUMNS)
    + " |\n"
)
PAGES = ["/", "/settings/", "/usage/", "/studio/", "/audio/", "/mj/", "/playground/", "/library/", "/jobs/", "/search/"]


@pytest.fixture
def phone(playwright_driver, live_server, alice):
    for context in new_context(
        playwright_driver, viewport={"width": 375, "height": 667}, color_scheme="dark", reduced_motion="reduce"
    ):
        log_in(context, live_server, alice)
        page = context.pages[0] if context.pages else context.new_page()
        yield page


def overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_send_a_message_and_open_the_sidebar_at_375px(phone, live_server, conversation, fake):
    fake.state.reply = WIDE
    phone.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    sidebar = phone.locator("#sidebar")
    expect(sidebar).to_be_hidden()
    send(phone, "Show me something wide")
    reply = last_reply(phone)
    expect(reply.locator("button.regenerate")).to_be_visible(timeout=20_000)
    assert Message.objects.filter(conversation=conversation, role="assistant", status="complete").exists()

    # Long code and a wide table scroll inside themselves; the page does not.
    assert overflow(phone) <= 0
    for selector in ("pre", "table"):
        wide = reply.locator(f".msg-body {selector}").first
        scroll, client = wide.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert scroll > client, selector
        assert wide.bounding_box()["width"] <= 375

    # The composer is at the bottom of the screen, in full.
    box = phone.locator("#composer").bounding_box()
    assert 667 - 2 <= box["y"] + box["height"] <= 667 + 1
    assert box["width"] <= 375

    # The drawer opens from its button, takes focus, and gives it back on Escape.
    toggle = phone.get_by_role("button", name="Conversations")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(sidebar.locator("li.current a")).to_be_focused()
    assert sidebar.bounding_box()["x"] >= 0
    phone.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_be_focused()
    # Opened again, a conversation link is one tap away.
    toggle.click()
    sidebar.get_by_role("link", name="New chat").click()
    phone.wait_for_url(f"{live_server.url}/")
    assert overflow(phone) <= 0


def test_every_page_fits_375px(phone, live_server, conversation):
    for path in PAGES:
        phone.goto(f"{live_server.url}{path}")
        assert overflow(phone) <= 0, path


def test_keyboard_only_on_a_phone_in_the_dark(phone, live_server, alice, conversation, fake):
    alice.theme = "dark"
    alice.save()
    phone.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    phone.wait_for_selector("html[data-chat-ready]", state="attached")
    assert phone.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(23, 24, 27)"
    phone.keyboard.press("Shift+Escape")
    phone.keyboard.type("Hello from a phone")
    phone.keyboard.press("Enter")
    expect(last_reply(phone).locator("button.regenerate")).to_be_visible(timeout=20_000)
    expect(phone.locator("#id_text")).to_be_focused()
    # The conversation list, from the keyboard: open, move through it, close.
    phone.keyboard.press("Control+Shift+S")
    expect(phone.locator("#sidebar")).to_be_visible()
    expect(phone.locator("#sidebar li.current a")).to_be_focused()
    # The page behind the open drawer is out of reach: Tab stays in the drawer.
    assert phone.evaluate("() => document.getElementById('main').inert")
    phone.keyboard.press("Shift+Tab")
    expect(phone.locator("#q")).to_be_focused()
    phone.keyboard.press("Escape")
    expect(phone.locator("#sidebar")).to_be_hidden()
    expect(phone.get_by_role("button", name="Conversations")).to_be_focused()
    assert not phone.evaluate("() => document.getElementById('main').inert")
    phone.keyboard.press("Enter")
    expect(phone.locator("#sidebar")).to_be_visible()
    assert overflow(phone) <= 0


def test_every_top_link_is_reachable_at_375px_behind_the_menu(phone, live_server, conversation):
    """Log out, Settings, Usage, Library, Jobs and the language sat off-screen in a sideways-scrolling bar."""
    phone.goto(f"{live_server.url}/studio/")
    menu = phone.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(phone.get_by_role("link", name="Settings")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for name in ("Image studio", "Jobs", "Library", "Usage", "Settings"):
        link = phone.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, name
    for control in (phone.get_by_role("button", name="Log out alice"), phone.locator("#language")):
        expect(control).to_be_visible()
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    phone.keyboard.press("Escape")
    expect(phone.get_by_role("link", name="Settings")).to_be_hidden()
    expect(menu).to_be_focused()
    assert overflow(phone) <= 0


def test_the_first_tab_offers_to_skip_to_the_content(phone, live_server):
    """15 to 23 Tabs reached the studio's or Midjourney's prompt."""
    for path, target in (("/studio/", "#id_prompt"), ("/mj/", "#id_prompt")):
        phone.goto(f"{live_server.url}{path}")
        phone.keyboard.press("Tab")
        skip = phone.get_by_role("link", name="Skip to the content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        phone.keyboard.press("Enter")
        # Past the top bar and the sidebar: the page's own controls come first (the tabs of Midjourney's forms).
        for _ in range(8):
            phone.keyboard.press("Tab")
            if phone.evaluate(f"() => document.activeElement === document.querySelector('{target}')"):
                break
        expect(phone.locator(target)).to_be_focused()
