"""Light, dark and "follow the system": remembered per user, rendered by the server (no flash, no script)."""

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.browser import log_in

LIGHT_BG = "rgb(247, 247, 248)"
DARK_BG = "rgb(23, 24, 27)"


def test_the_theme_is_remembered_and_rendered_into_the_page(alice, alice_client):
    assert alice.theme == User.Theme.SYSTEM
    assert b'data-theme="system"' in alice_client.get("/").content
    response = alice_client.post("/accounts/theme/", {"theme": "dark", "next": "/usage/"})
    assert (response.status_code, response["Location"]) == (302, "/usage/")
    alice.refresh_from_db()
    assert alice.theme == "dark"
    page = alice_client.get("/settings/").content.decode()
    assert '<html lang="en" data-theme="dark">' in page
    assert 'value="dark" required id="id_theme_2" checked' in page


def test_a_bad_theme_or_a_foreign_next_changes_nothing(alice, alice_client):
    assert alice_client.post("/accounts/theme/", {"theme": "sepia"}).status_code == 400
    assert alice_client.get("/accounts/theme/").status_code == 405
    alice.refresh_from_db()
    assert alice.theme == "system"
    response = alice_client.post("/accounts/theme/", {"theme": "light", "next": "https://evil.example/"})
    assert response["Location"] == "/settings/"


def test_visitors_follow_their_system(client, db):
    assert b'data-theme="system"' in client.get("/accounts/login/").content


@pytest.mark.parametrize(
    ("chosen", "system", "background"),
    [
        ("system", "dark", DARK_BG),
        ("system", "light", LIGHT_BG),
        ("light", "dark", LIGHT_BG),
        ("dark", "light", DARK_BG),
    ],
)
def test_the_first_paint_has_the_right_theme(
    page,
    context,
    live_server,
    alice,
    chat_with_history,
    chosen,
    system,
    background,
):
    alice.theme = chosen
    alice.save()
    log_in(context, live_server, alice)
    page.emulate_media(color_scheme=system)
    # Scripts blocked: the theme cannot come from one, so there is nothing to flash.
    page.route("**/*.js", lambda route: route.abort())
    page.goto(f"{live_server.url}{chat_with_history.get_absolute_url()}", wait_until="commit")
    page.wait_for_selector(".markdown pre")
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == background
    comment = page.locator(".markdown pre .hl-c1").first
    colour = comment.evaluate("el => getComputedStyle(el).color")
    # The code follows the theme: monokai's comments are light, default's dark.
    lightness = sum(int(part) for part in colour[colour.index("(") + 1 : -1].split(",")[:3])
    assert (lightness > 384) == (background == DARK_BG)


def test_choosing_a_theme_on_the_settings_page(alice_page, live_server):
    alice_page.goto(f"{live_server.url}/settings/")
    alice_page.get_by_label("Dark").check()
    alice_page.get_by_role("button", name="Save theme").click()
    expect(alice_page.locator("html")).to_have_attribute("data-theme", "dark")
    assert alice_page.evaluate("() => getComputedStyle(document.body).backgroundColor") == DARK_BG
