"""Logging in, in Chromium."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_locked_out_login_says_for_how_long(page, live_server, alice, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    page.goto(live_server.url + "/accounts/login/")
    for password in ["wrong-1", "wrong-2", "alice-password-1"]:
        page.fill("#id_username", "alice")
        page.fill("#id_password", password)
        page.click("button[type=submit]")
    expect(page.locator("p.error")).to_have_text("Too many failed attempts to log in. Try again in 15 minutes.")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
