"""Images in the chat as a person attaches them, in headless Chromium: paste, pick, drop, remove, send."""

import base64

import pytest
from playwright.sync_api import Page, expect

from aitre.models import ModelSetting
from chat.models import Conversation
from files.models import StoredFile
from tests.browser import last_reply, log_in, new_context
from tests.files.images import picture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASTE = """([b64, name]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, { type: "image/png" }));
    const paste = new ClipboardEvent("paste", { clipboardData: data, bubbles: true });
    document.querySelector("#id_text").dispatchEvent(paste);
}"""

DROP = """([b64, name]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, { type: "image/png" }));
    const composer = document.querySelector("#composer");
    composer.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
    composer.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
}"""


def png64(colour) -> str:
    return base64.b64encode(picture("PNG", size=(200, 120), colour=colour)).decode()


def open_chat(page: Page, live_server, conversation: Conversation) -> None:
    page.goto(f"{live_server.url}/c/{conversation.pk}/")
    page.wait_for_selector("html[data-chat-ready]", state="attached")


def test_paste_pick_drop_remove_and_send_a_screenshot(alice_page, live_server, alice, fake, playwright_driver, bob):
    conversation = Conversation.objects.create(owner=alice, model="gpt-4o")
    open_chat(alice_page, live_server, conversation)
    thumbnails = alice_page.locator(".attachments li img")

    alice_page.evaluate(PASTE, [png64((250, 0, 0)), "pasted.png"])
    expect(thumbnails).to_have_count(1)
    alice_page.set_input_files(
        'input[name="images"]', files=[{"name": "picked.png", "mimeType": "image/png", "buffer": picture("PNG")}]
    )
    expect(thumbnails).to_have_count(2)
    alice_page.evaluate(DROP, [png64((0, 0, 250)), "dropped.png"])
    expect(thumbnails).to_have_count(3)
    # Each preview renders: pasted, picked and dropped (the CSP blocked their blob: URLs: broken-image icons).
    alice_page.wait_for_function(
        "() => [...document.querySelectorAll('.attachments li img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    alice_page.get_by_role("button", name="Remove picked.png").press("Enter")
    expect(thumbnails).to_have_count(2)
    # Focus goes to the next picture's button, not lost with the one pressed.
    expect(alice_page.get_by_role("button", name="Remove dropped.png")).to_be_focused()

    alice_page.locator("#id_text").fill("What is on these?")
    alice_page.locator("#id_text").press("Enter")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible()
    expect(alice_page.locator(".attachments li")).to_have_count(0)
    question = alice_page.locator("article.msg-user").last
    expect(question.locator(".msg-images img")).to_have_count(2)
    sent = fake.chat_requests()[-1].body["messages"][-1]["content"]
    assert [part["type"] for part in sent] == ["text", "image_url", "image_url"]
    names = sorted(StoredFile.objects.values_list("name", flat=True))
    assert names == ["dropped.png", "pasted.png"]
    # The thumbnails load (the CSP and the access check let the owner's own images through).
    loaded = "img => img.complete && img.naturalWidth > 0"
    alice_page.wait_for_function(loaded, arg=question.locator(".msg-images img").first.element_handle())

    alice_page.reload()
    expect(alice_page.locator("article.msg-user").last.locator(".msg-images img")).to_have_count(2)
    assert alice_page.js_errors == []

    # A stranger who has the address gets nothing.
    url = live_server.url + StoredFile.objects.first().get_absolute_url()
    for other in new_context(playwright_driver):
        log_in(other, live_server, bob)
        stranger = other.new_page()
        assert stranger.goto(url).status == 404


def test_a_model_without_vision_turns_the_button_off_and_says_why(alice_page, live_server, fake):
    ModelSetting.objects.create(name="gpt-4o-mini", capabilities=["chat"], is_default=True)
    ModelSetting.objects.create(name="gpt-4o", capabilities=["chat", "vision"])
    alice_page.goto(live_server.url + "/")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    button = alice_page.locator(".attach-button")
    expect(button).to_have_class("attach-button off")
    expect(alice_page.locator(".attach-off")).to_be_visible()
    alice_page.evaluate(PASTE, [png64((1, 2, 3)), "shot.png"])
    expect(alice_page.locator(".composer-error")).to_contain_text("does not take images")
    expect(alice_page.locator(".attachments li")).to_have_count(0)

    alice_page.select_option("#id_model", "gpt-4o")
    expect(button).to_have_class("attach-button")
    expect(alice_page.locator(".attach-off")).to_be_hidden()
    alice_page.evaluate(PASTE, [png64((1, 2, 3)), "shot.png"])
    expect(alice_page.locator(".attachments li")).to_have_count(1)
    alice_page.locator("#id_text").fill("What is this?")
    alice_page.locator("#id_text").press("Enter")
    expect(last_reply(alice_page).locator("button.regenerate")).to_be_visible()
    assert fake.chat_requests()[-1].body["model"] == "gpt-4o"
    assert StoredFile.objects.count() == 1


def test_a_refused_file_keeps_the_text_and_the_images(alice_page, live_server, alice, fake):
    conversation = Conversation.objects.create(owner=alice, model="gpt-4o")
    open_chat(alice_page, live_server, conversation)
    # A file that says it is a PNG but is not: the browser cannot tell, the server can.
    alice_page.set_input_files(
        'input[name="images"]', files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not a picture"}]
    )
    alice_page.locator("#id_text").fill("Keep these words")
    alice_page.locator("#id_text").press("Enter")
    expect(alice_page.locator(".composer-error")).to_contain_text("fake.png")
    expect(alice_page.locator("#id_text")).to_have_value("Keep these words")
    expect(alice_page.locator(".attachments li")).to_have_count(1)
    assert not fake.chat_requests()
