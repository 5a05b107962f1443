"""The keyboard alone: the shortcuts and their dialog, focus after send and stop, one announcement a reply."""

from playwright.sync_api import expect

from tests.browser import last_reply, send

FOCUSED_ID = "() => document.activeElement && document.activeElement.id"


def test_the_shortcuts_dialog_opens_from_the_keyboard_and_gives_focus_back(alice_page, live_server, conversation):
    alice_page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    alice_page.locator("body").press("Control+/")
    dialog = alice_page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("New chat")
    expect(alice_page.get_by_role("button", name="Close")).to_be_focused()
    alice_page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # "?" opens it too, but not while typing a question mark in a field.
    alice_page.locator("#id_text").press("?")
    expect(dialog).to_be_hidden()
    assert alice_page.locator("#id_text").input_value() == "?"
    alice_page.locator("#id_text").blur()
    alice_page.keyboard.press("?")
    expect(dialog).to_be_visible()
    alice_page.get_by_role("button", name="Close").press("Enter")
    expect(dialog).to_be_hidden()
    expect(alice_page.get_by_role("button", name="Keyboard shortcuts")).to_be_visible()


def test_search_composer_and_new_chat_shortcuts(alice_page, live_server, conversation):
    alice_page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    alice_page.keyboard.press("Control+k")
    assert alice_page.evaluate(FOCUSED_ID) == "q"
    alice_page.keyboard.press("Shift+Escape")
    assert alice_page.evaluate(FOCUSED_ID) == "id_text"
    alice_page.keyboard.press("Control+Shift+O")
    alice_page.wait_for_url(f"{live_server.url}/")
    # Where there is no conversation list, Ctrl+K goes to the search page.
    alice_page.goto(f"{live_server.url}/accounts/password/")
    alice_page.keyboard.press("Control+k")
    alice_page.wait_for_url(f"{live_server.url}/search/")


def test_send_and_stop_with_the_keyboard_keep_focus_in_the_composer(alice_page, live_server, conversation, fake):
    fake.state.token_delay = 0.1
    alice_page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    send(alice_page, "Hi")
    reply = last_reply(alice_page)
    expect(reply.locator(".msg-body")).to_contain_text("Here")
    assert alice_page.evaluate(FOCUSED_ID) == "id_text"
    # Tab to Stop and press it: the button goes with the finished reply, focus comes back to the box.
    reply.locator("button.stop").focus()
    alice_page.keyboard.press("Enter")
    expect(last_reply(alice_page).locator(".badge")).to_have_text("Stopped")
    expect(alice_page.locator("#id_text")).to_be_focused()
    # Esc stops too.
    send(alice_page, "Again")
    expect(last_reply(alice_page).locator("button.stop")).to_be_visible()
    expect(last_reply(alice_page).locator(".msg-body")).to_contain_text("Here")
    alice_page.keyboard.press("Escape")
    expect(last_reply(alice_page).locator(".badge")).to_have_text("Stopped")
    expect(alice_page.locator("#id_text")).to_be_focused()


def test_a_finished_reply_is_announced_once_not_token_by_token(alice_page, live_server, conversation, fake):
    fake.state.token_delay = 0.05
    alice_page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    assert alice_page.locator("#thread").get_attribute("aria-live") is None
    alice_page.evaluate(
        """() => {
            window.announced = [];
            new MutationObserver(() => {
                const text = document.getElementById("announcer").textContent;
                if (text) window.announced.push(text);
            }).observe(document.getElementById("announcer"), { childList: true, characterData: true, subtree: true });
        }"""
    )
    send(alice_page, "Hi")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible(timeout=20_000)
    expect(alice_page.locator("#announcer")).to_contain_text("Reply finished:")
    announced = alice_page.evaluate("() => window.announced")
    assert len(announced) == 1
    assert announced[0].startswith("Reply finished: Hello! Here is a small example: def greet(name):")
    assert announced[0].endswith("It returns a greeting for name.")
    assert "Copy" not in announced[0], "the copy buttons are not part of the reply"


def test_icon_buttons_have_names(alice_page, live_server, conversation, fake):
    alice_page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    send(alice_page, "Hi")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible()
    fake.state.reply = "Second."
    last_reply(alice_page).locator("button.regenerate").click()
    expect(last_reply(alice_page).locator(".version-label")).to_have_text("2 / 2")
    unnamed = alice_page.evaluate(
        """() => [...document.querySelectorAll("button, a[href], [role=button]")]
            .filter((el) => el.offsetParent !== null)
            .filter((el) => !(el.getAttribute("aria-label") || el.textContent.trim() || el.title))
            .map((el) => el.outerHTML)"""
    )
    assert unnamed == []
    expect(alice_page.get_by_role("button", name="Previous version")).to_be_visible()


def test_after_deleting_a_conversation_the_message_box_has_focus(alice_page, live_server, conversation):
    alice_page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    alice_page.get_by_role("link", name="Delete").focus()
    alice_page.keyboard.press("Enter")
    alice_page.get_by_role("button", name="Delete").press("Enter")
    alice_page.wait_for_url(f"{live_server.url}/")
    expect(alice_page.locator("#id_text")).to_be_focused()
