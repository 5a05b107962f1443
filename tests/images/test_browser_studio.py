"""The image studio and the media library as a person uses them, in headless Chromium."""

import re

import pytest
from playwright.sync_api import expect

from files.models import StoredFile
from images.models import Generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_studio(page, live_server):
    page.goto(live_server.url + "/studio/")
    page.wait_for_selector("html[data-studio-ready]", state="attached")


@pytest.mark.parametrize(
    ("model", "shown", "hidden"),
    [
        ("dall-e-3", ["size", "quality", "style"], ["background", "output_format", "n"]),
        ("gpt-image-1", ["size", "quality", "background", "output_format", "n"], ["style"]),
        ("flux-pro", ["size", "n"], ["quality", "style", "background", "output_format"]),
    ],
)
def test_each_family_is_offered_only_its_own_parameters_and_generates(
    alice_page, live_server, fake, model, shown, hidden
):
    open_studio(alice_page, live_server)
    alice_page.select_option("#id_model", model)
    for name in shown:
        expect(alice_page.locator(f'.param[data-param="{name}"]')).to_be_visible()
    for name in hidden:
        expect(alice_page.locator(f'.param[data-param="{name}"]')).to_be_hidden()
    alice_page.fill("#id_prompt", f"a lighthouse by {model}")
    alice_page.click("#studio-form button[type=submit]")
    run = alice_page.locator("li.run").first
    expect(run.locator(".run-images img").first).to_be_visible(timeout=15_000)
    # The picture loads (the access check and the CSP let the owner's own image through); lazily, so wait for it.
    loaded = "img => img.complete && img.naturalWidth > 0"
    alice_page.wait_for_function(loaded, arg=run.locator(".run-images img").first.element_handle())
    body = fake.image_requests()[-1].body
    assert not set(body) & set(hidden)
    if model == "dall-e-3":
        expect(run.locator(".run-revised")).to_contain_text("A detailed rendering of")
    assert alice_page.js_errors == []


def test_a_transparent_background_is_not_offered_as_jpeg_either_way_round(alice_page, live_server, fake):
    """The API refuses gpt-image-1's transparent background with JPEG output: the page offered the pair."""
    open_studio(alice_page, live_server)
    alice_page.select_option("#id_model", "gpt-image-1")
    jpeg = alice_page.locator('#id_output_format option[value="jpeg"]')
    transparent = alice_page.locator('#id_background option[value="transparent"]')
    expect(jpeg).to_be_enabled()
    alice_page.select_option("#id_background", "transparent")
    expect(jpeg).to_be_disabled()
    alice_page.select_option("#id_background", "opaque")
    alice_page.select_option("#id_output_format", "jpeg")
    expect(transparent).to_be_disabled()
    alice_page.select_option("#id_output_format", "webp")
    expect(transparent).to_be_enabled()
    assert alice_page.js_errors == []


def test_a_reload_mid_generation_follows_it_to_the_end(alice_page, live_server, fake):
    fake.script("slow")
    fake.state.image_delay = 3.0
    open_studio(alice_page, live_server)
    alice_page.select_option("#id_model", "dall-e-3")
    alice_page.fill("#id_prompt", "slow sunrise")
    alice_page.click("#studio-form button[type=submit]")
    expect(alice_page.locator("li.run .run-progress")).to_be_visible()
    expect(alice_page.locator("li.run .elapsed")).to_have_text(re.compile(r"\d+ s"))
    alice_page.reload()
    alice_page.wait_for_selector("html[data-studio-ready]", state="attached")
    expect(alice_page.locator("li.run .run-progress")).to_be_visible()
    expect(alice_page.locator("li.run .run-images img")).to_have_count(1, timeout=15_000)
    assert Generation.objects.get().status == "complete"


def test_a_refusal_shows_the_apis_reason_and_keeps_the_prompt(alice_page, live_server, fake):
    fake.script("policy")
    open_studio(alice_page, live_server)
    alice_page.select_option("#id_model", "dall-e-3")
    alice_page.fill("#id_prompt", "something not allowed")
    alice_page.click("#studio-form button[type=submit]")
    expect(alice_page.locator("li.run .msg-error")).to_contain_text("safety system", timeout=15_000)
    expect(alice_page.locator("#id_prompt")).to_have_value("something not allowed")
    expect(alice_page.locator("li.run button.retry")).to_be_visible()


def test_the_library_holds_the_studios_pictures_and_one_goes_into_a_chat(alice_page, live_server, fake):
    open_studio(alice_page, live_server)
    alice_page.select_option("#id_model", "dall-e-3")
    alice_page.fill("#id_prompt", "a red kite")
    alice_page.click("#studio-form button[type=submit]")
    expect(alice_page.locator("li.run .run-images img")).to_have_count(1, timeout=15_000)
    alice_page.click("text=Library")
    expect(alice_page.locator(".library-item")).to_have_count(1)
    expect(alice_page.locator(".library-item")).to_contain_text("a red kite")
    alice_page.fill('input[name="q"]', "kite")
    alice_page.click(".library-filters button")
    expect(alice_page.locator(".library-item")).to_have_count(1)
    image = StoredFile.objects.get()
    alice_page.goto(f"{live_server.url}/?attach={image.pk}")
    alice_page.wait_for_selector("html[data-chat-ready]", state="attached")
    expect(alice_page.locator(".attached img")).to_be_visible()
    alice_page.select_option("#id_model", "gpt-4o")
    alice_page.locator("#id_text").fill("What bird is this?")
    alice_page.locator("#id_text").press("Enter")
    expect(alice_page.locator("article.msg-user .msg-images img")).to_have_count(1)
    expect(alice_page.locator("article.msg-assistant button.regenerate")).to_be_visible()
    content = fake.chat_requests()[-1].body["messages"][-1]["content"]
    assert [part["type"] for part in content] == ["text", "image_url"]


def test_deleting_from_the_library_asks_first_and_keeps_the_filters(alice_page, live_server, alice):
    from files import store
    from tests.files.images import picture

    for prompt in ("a red kite", "a blue kite"):
        image = store.check_image(picture("PNG"), "kite.png")
        store.keep_image(alice.pk, image, "kite.png", StoredFile.Source.STUDIO, prompt=prompt)
    alice_page.goto(f"{live_server.url}/library/?q=kite&source=studio")
    expect(alice_page.locator(".library-item")).to_have_count(2)
    asked: list[str] = []

    def answer(dialog, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    alice_page.once("dialog", lambda dialog: answer(dialog, False))
    alice_page.locator(".library-item").first.get_by_role("button", name="Delete").click()
    expect(alice_page.locator(".library-item")).to_have_count(2)
    assert StoredFile.objects.count() == 2, "declined: nothing deleted"
    alice_page.once("dialog", lambda dialog: answer(dialog, True))
    alice_page.locator(".library-item").first.get_by_role("button", name="Delete").click()
    expect(alice_page.locator(".library-item")).to_have_count(1)
    assert alice_page.url.endswith("/library/?q=kite&source=studio")
    assert len(asked) == 2 and "cannot be undone" in asked[0]
    assert StoredFile.objects.count() == 1
