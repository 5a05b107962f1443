"""
Headless Chromium for the browser tests: Debian's chromium driven by
Playwright (never a downloaded browser), a fresh profile per test, and the
small helpers the tests share. Loaded as a plugin by tests/conftest.py.
"""

import shutil
import tempfile
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from accounts.models import User

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


# How long a browser test waits for what it expects before it fails: a ceiling for a
# busy machine (load 14 on 2 cores), never a guess of how long things take, since
# every wait ends as soon as what it waits for happens.
PATIENCE_MS = 30_000
expect.set_options(timeout=PATIENCE_MS)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator:
    with sync_playwright() as driver:
        yield driver


def new_context(driver, **options) -> Iterator[BrowserContext]:
    profile = tempfile.mkdtemp(prefix="aitre-chromium-")
    context = driver.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=FLAGS, **options
    )
    context.set_default_timeout(PATIENCE_MS)
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def context(playwright_driver) -> Iterator[BrowserContext]:
    yield from new_context(playwright_driver)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return page


def log_in(context: BrowserContext, live_server, user: User) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def alice_page(page: Page, context: BrowserContext, live_server, alice) -> Page:
    log_in(context, live_server, alice)
    return page


def send(page: Page, text: str) -> None:
    page.wait_for_selector("html[data-chat-ready]", state="attached")
    box = page.locator("#id_text")
    box.fill(text)
    box.press("Enter")


def rendered_html(article) -> str:
    """A message body's HTML as the server rendered it, without the buttons the script adds."""
    return article.locator(".msg-body").evaluate(
        """body => {
            const copy = body.cloneNode(true);
            copy.querySelectorAll('.copy-code').forEach((b) => b.remove());
            return copy.innerHTML;
        }"""
    )


def last_reply(page: Page):
    return page.locator("article.msg-assistant").last


def csp_violations(page: Page) -> list[str]:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    return violations


AXE = settings.BASE_DIR / "tests" / "vendor" / "axe-core" / "axe.min.js"
# Rules left out of every axe run, each with its reason:
AXE_DISABLED: dict[str, str] = {
    # Our pages are checked one state at a time; a region rule would flag the
    # live announcer and dialogs that sit outside landmarks on purpose.
    "region": "the polite announcer and the shortcuts dialog live outside landmarks by design",
}


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """
    axe-core's findings on the page as it is now, at the given impacts, one
    line each (rule, impact, the first offending elements). axe comes from
    tests/vendor (never fetched); DevTools evaluation is not bound by the CSP.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    options = {"rules": {rule: {"enabled": False} for rule in AXE_DISABLED}}
    results = page.evaluate("options => window.axe.run(document, options)", options)
    # axe leaves text the colour of its background "to review" (it might be hidden on purpose);
    # here it never is: a button whose label cannot be seen.
    for check in results["incomplete"]:
        invisible = [
            node
            for node in check["nodes"]
            if any((item.get("data") or {}).get("messageKey") == "equalRatio" for item in node.get("any") or [])
        ]
        if check["id"] == "color-contrast" and invisible:
            results["violations"].append(dict(check, impact="serious", nodes=invisible))

    def where(node: dict) -> str:
        return " ".join(node["target"]) + ": " + node.get("failureSummary", "").replace("\n", " ")

    return [
        f"{v['id']} ({v['impact']}): {v['help']} at " + "; ".join(where(node) for node in v["nodes"][:3])
        for v in results["violations"]
        if v["impact"] in impacts
    ]
