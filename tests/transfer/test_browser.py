"""In the browser: ChatGPT's history moved in, one conversation shared with a colleague for a week, and printed."""

import json

from playwright.sync_api import expect

from chat.models import Conversation
from sharing.models import ShareLink
from tests.browser import log_in, new_context
from tests.helpers import run_jobs
from tests.transfer import chatgpt


def test_move_chatgpt_history_in_and_share_a_conversation_for_a_week(
    alice_page, live_server, alice, bob, playwright_driver, tmp_path
):
    page = alice_page
    exported = tmp_path / "conversations.json"
    exported.write_text(json.dumps(chatgpt.export()), encoding="utf-8")
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("link", name="Export everything, or import conversations (also from ChatGPT)").click()
    page.get_by_label("File to import").set_input_files(exported)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("“conversations.json” is being imported")
    run_jobs()
    # The page asks how the import is doing and shows its result when the worker is done.
    expect(page.locator("li.import")).to_contain_text("Imported 2 conversations (10 messages).")
    expect(page.locator("li.import")).to_contain_text("tool messages: 1")

    page.get_by_role("link", name="Arithmetic").click()
    # The question was edited in ChatGPT (version 1 of 2 on show), and its reply regenerated (2 of 2).
    expect(page.locator(".version-label").first).to_have_text("1 / 2")
    expect(page.locator(".version-label").nth(1)).to_have_text("2 / 2")
    page.get_by_role("link", name="Share").click()
    page.get_by_label("Only people signed in to this site").check()
    page.get_by_label("Expires").select_option("7")
    page.get_by_role("button", name="Make the link").click()
    link = ShareLink.objects.get()
    field = page.locator(f"#url-{link.pk}")
    expect(field).to_have_value(f"{live_server.url}/s/{link.token}")
    expect(page.locator(f"#link-{link.pk}")).to_contain_text("Only people signed in to this site")

    # The colleague opens it, then continues it as their own.
    for context in new_context(playwright_driver):
        log_in(context, live_server, bob)
        colleague = context.pages[0] if context.pages else context.new_page()
        colleague.goto(f"{live_server.url}/s/{link.token}")
        expect(colleague.locator("h1")).to_have_text("Arithmetic")
        expect(colleague.locator("article.msg").last).to_contain_text("It is 4, say the sources.")
        colleague.get_by_role("link", name="Continue this chat").click()
        colleague.get_by_role("button", name="Copy it into my account").click()
        expect(colleague.locator(".conversation-title")).to_have_text("Arithmetic")
        expect(colleague.locator("#id_text")).to_be_visible()
    assert Conversation.objects.filter(owner=bob, title="Arithmetic").exists()
    page.goto(f"{live_server.url}/shares/")
    expect(page.locator(f"#link-{link.pk}")).to_contain_text("Views")
    expect(page.locator(f"#link-{link.pk} .share-facts")).to_contain_text("1")


def test_printing_a_conversation_shows_only_the_messages(alice_page, live_server, alice):
    from tests.helpers import branched_conversation

    conversation = branched_conversation(alice)
    alice_page.goto(f"{live_server.url}{conversation.get_absolute_url()}")
    alice_page.emulate_media(media="print")
    for hidden in (".topbar", "#sidebar", "#composer", ".msg-actions", ".conversation-settings"):
        expect(alice_page.locator(hidden).first).to_be_hidden()
    expect(alice_page.locator(".conversation-title")).to_be_visible()
    expect(alice_page.locator("article.msg")).to_have_count(4)
    expect(alice_page.locator("article.msg").last).to_contain_text("Ultramarine")
    pdf = alice_page.pdf()
    assert pdf.startswith(b"%PDF")


def test_chatgpts_zip_comes_in_with_pictures_that_render_and_a_line_for_the_missing_one(
    alice_page, live_server, alice, tmp_path
):
    from tests.transfer.test_restoring import chatgpt_zip

    page = alice_page
    archive = tmp_path / "chatgpt-export.zip"
    archive.write_bytes(chatgpt_zip())
    page.goto(f"{live_server.url}/transfer/")
    page.get_by_label("File to import").set_input_files(archive)
    page.get_by_role("button", name="Import", exact=True).click()
    run_jobs()
    expect(page.locator("li.import")).to_contain_text("2 files restored.")
    page.get_by_role("link", name="Plots").click()
    pictures = page.locator("article.msg img")
    expect(pictures).to_have_count(2)
    for index in range(2):
        picture = pictures.nth(index)
        expect(picture).to_be_visible()
        # Loaded from this site, not a broken image.
        page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=picture.element_handle())
    question = page.locator("article.msg").first
    expect(question).to_contain_text("[A picture could not be imported: file-Gone9: it is not in the zip]")
    expect(question).not_to_contain_text("*[")
    code = page.locator("article.msg pre").first
    expect(code).to_contain_text("print(6 * 7)")
    assert page.js_errors == []
