"""Search from the sidebar to the message, in headless Chromium."""

import pytest
from playwright.sync_api import expect

from search import indexing
from tests.browser import csp_violations

from .fixtures import CAR_ANSWER, alices_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_from_the_sidebar_and_land_on_the_message(alice, alice_page, live_server, fake):
    history = alices_history(alice)
    indexing.embed_pending(alice.pk)
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
