"""Search from the sidebar to the message, in headless Chromium."""

import pytest
from playwright.sync_api import expect

from search import embedding
from tests.browser import csp_violations

from .fixtures import CAR_ANSWER, PASTA_ANSWER, alices_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_from_the_sidebar_and_land_on_the_message(alice, alice_page, live_server, fake):
    history = alices_history(alice)
    embedding.embed_pending(alice.pk)
    violations = csp_violations(alice_page)
    alice_page.goto(live_server.url + "/")
    alice_page.fill("#q", "engine noise fixed at the garage")
    alice_page.press("#q", "Enter")
    first = alice_page.locator(".search-result").first
    expect(first).to_contain_text("motor mount")
    expect(first).to_contain_text("meaning")
    first.locator("a").click()
    reply = history["car"].messages.get(content=CAR_ANSWER)
    expect(alice_page.locator(f"#m{reply.pk}")).to_be_in_viewport()
    assert alice_page.url.endswith(f"/c/{history['car'].pk}/#m{reply.pk}")

    alice_page.goto(live_server.url + "/search/?q=发动机支架&mode=words")
    expect(alice_page.locator(".search-result mark").first).to_have_text("发动机支架")
    assert alice_page.js_errors == [] and violations == []


def test_the_sidebar_shows_results_as_you_type(alice, alice_page, live_server, fake):
    history = alices_history(alice)
    alice_page.goto(live_server.url + "/")
    expect(alice_page.locator("form.search[data-suggest-ready]")).to_have_count(1)
    alice_page.locator("#q").press_sequentially("spaghe")
    suggestions = alice_page.locator("#search-suggestions")
    expect(suggestions).to_be_visible()
    expect(suggestions.locator("li").first).to_contain_text("Dinner")
    expect(suggestions.locator("mark").first).to_have_text("spaghe")
    # Down into the list, and it opens the message.
    alice_page.press("#q", "ArrowDown")
    expect(suggestions.locator("a").first).to_be_focused()
    alice_page.keyboard.press("Escape")
    expect(suggestions).to_be_hidden()
    alice_page.locator("#q").press_sequentially("t")
    expect(suggestions).to_be_visible()
    suggestions.locator("a").first.click()
    reply = history["pasta"].messages.get(content=PASTA_ANSWER)
    expect(alice_page.locator(f"#m{reply.pk}")).to_be_in_viewport()
    assert alice_page.js_errors == []
