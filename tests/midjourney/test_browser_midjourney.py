"""Midjourney as a person uses it, in headless Chromium, with the real worker process following the tasks."""

import re

import pytest
from playwright.sync_api import expect

from midjourney.models import MidjourneyTask
from tests.fake_aitre.pictures import draw
from tests.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mj_page(alice_page, live_server, fake, start_worker):
    fake.state.mj_step = 0.4
    start_worker()
    alice_page.goto(f"{live_server.url}/mj/")
    alice_page.wait_for_selector("html[data-mj-ready]", state="attached")
    return alice_page


def card(page, number: int = 0):
    return page.locator("#tasks li.mj-task").nth(number)


def test_imagine_watch_it_move_then_upscale_and_vary(mj_page, live_server, fake):
    page = mj_page
    # The task moves a step only once the page has shown the last: however slow the machine, no step is missed.
    fake.state.mj_steps_allowed = 1
    page.fill("#id_prompt", "a lighthouse at dawn")
    page.select_option("#id_aspect", "16:9")
    page.click("#imagine-form button[type=submit]")
    first = card(page)
    expect(first.locator(".run-prompt")).to_have_text("a lighthouse at dawn --ar 16:9")
    # The percentage moves on the page by itself: no reload.
    seen = set()

    def moved() -> bool:
        percent = first.locator("[data-percent]")
        text = percent.text_content(timeout=1000) if percent.count() else ""
        if text:
            seen.add(text)
        return len(seen) >= 3

    for allowed in range(2, 5):
        shown = len(seen)
        fake.state.mj_steps_allowed = allowed
        wait_for(lambda shown=shown: moved() or len(seen) > shown)
    wait_for(moved, timeout=20)
    expect(first.locator(".mj-preview img")).to_have_attribute("src", re.compile(r"/files/"), timeout=10_000)
    fake.state.mj_steps_allowed = None
    expect(first.locator(".mj-result img")).to_be_visible(timeout=20_000)
    expect(first.locator(".mj-buttons button")).to_have_count(9)
    first.locator(".mj-buttons button", has_text="U2").click()
    upscale = card(page)
    expect(upscale.locator(".mj-lineage")).to_contain_text("U2")
    expect(upscale.locator(".mj-result img")).to_be_visible(timeout=20_000)
    expect(upscale.locator(".mj-buttons button", has_text="Vary (Region)")).to_be_visible()
    card(page, 1).locator(".mj-buttons button", has_text="V1").click()
    expect(card(page).locator(".mj-lineage")).to_contain_text("V1")
    expect(card(page).locator(".mj-result img")).to_be_visible(timeout=20_000)
    # A reload shows the same, from the database.
    page.reload()
    expect(page.locator("#tasks li.mj-task.status-success")).to_have_count(3)
    assert not page.js_errors


def test_paint_a_mask_to_vary_a_region(mj_page, alice, live_server):
    page = mj_page
    page.fill("#id_prompt", "a garden with a bench")
    page.click("#imagine-form button[type=submit]")
    expect(card(page).locator(".mj-result img")).to_be_visible(timeout=25_000)
    card(page).locator(".mj-buttons button", has_text="U1").click()
    expect(card(page).locator(".mj-result img")).to_be_visible(timeout=25_000)
    card(page).locator(".mj-buttons button", has_text="Vary (Region)").click()
    page.wait_for_url(re.compile(r"/mj/t/\d+/"))
    page.wait_for_selector("html[data-mj-ready]", state="attached")
    canvas = page.locator("#mask-canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    page.fill("#id_modal_prompt", "a red bench")
    page.click("#modal button[type=submit]")
    expect(page.locator("#tasks li.mj-task .mj-result img")).to_be_visible(timeout=25_000)
    task = MidjourneyTask.objects.filter(owner=alice, action="modal").get()
    assert task.status == "success" and task.params["mask"] is True
    assert not page.js_errors


def test_blend_then_describe_then_imagine_a_suggestion(mj_page, tmp_path, fake):
    page = mj_page
    paths = []
    for name in ("left", "right"):
        path = tmp_path / f"{name}.png"
        path.write_bytes(draw(name, "png", (80, 80)))
        paths.append(str(path))
    page.click("[data-tab=blend]")
    page.set_input_files("#blend-form input[type=file]", paths)
    page.click("#blend-form button[type=submit]")
    expect(card(page).locator(".mj-result img")).to_be_visible(timeout=25_000)
    assert fake.mj_requests("/mj/submit/blend")[0].body["dimensions"] == "SQUARE"

    page.click("[data-tab=describe]")
    page.set_input_files("#describe-form input[type=file]", paths[:1])
    page.click("#describe-form button[type=submit]")
    expect(card(page).locator(".mj-suggestions li")).to_have_count(4, timeout=25_000)
    suggestion = card(page).locator(".mj-suggestion").nth(1).text_content()
    card(page).locator(".imagine-this button").nth(1).click()
    expect(card(page).locator(".run-prompt")).to_have_text(suggestion)
    assert fake.mj_requests("/mj/submit/imagine")[-1].body["prompt"] == suggestion


def test_a_refusal_is_shown_and_the_prompt_kept(mj_page):
    page = mj_page
    page.fill("#id_prompt", "something banned here")
    page.click("#imagine-form button[type=submit]")
    expect(page.locator(".mj-error")).to_contain_text("banned word (banned)")
    expect(page.locator("#id_prompt")).to_have_value("something banned here")


FAKE_NOTIFICATIONS = """
window.Notification = class {
  constructor(title, options) {
    const seen = JSON.parse(sessionStorage.getItem("notes") || "[]");
    seen.push({ title, body: options.body });
    sessionStorage.setItem("notes", JSON.stringify(seen));
  }
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def test_the_job_centre_moves_and_notifies_on_another_page(alice_page, context, live_server, alice, fake, start_worker):
    from midjourney import submitting

    page = alice_page
    context.add_init_script(FAKE_NOTIFICATIONS)
    fake.state.mj_step = 0.5
    page.goto(f"{live_server.url}/jobs/")
    page.click("#notify-toggle")
    expect(page.locator("#notify-toggle")).to_have_attribute("aria-pressed", "true")
    # A task that runs while the person is on the job centre: the list moves by itself.
    first = submitting.start(alice, MidjourneyTask.Action.IMAGINE, prompt="a paper boat")
    page.reload()
    expect(page.locator("#jobs li.job.running")).to_contain_text("a paper boat")
    start_worker()
    expect(page.locator("#jobs li.job.done")).to_contain_text("a paper boat", timeout=25_000)
    # Another, finishing while the person is on another page: a notification says so.
    submitting.start(alice, MidjourneyTask.Action.IMAGINE, prompt="a paper plane")
    page.goto(f"{live_server.url}/studio/")
    expect(page.locator("a[data-jobs-link] .jobs-count")).to_have_text("1")
    wait_for(lambda: "a paper plane" in (page.evaluate("sessionStorage.getItem('notes')") or ""), timeout=25_000)
    notes = page.evaluate("JSON.parse(sessionStorage.getItem('notes'))")
    assert notes == [{"title": "Midjourney: done", "body": "Imagine: a paper plane"}]
    assert MidjourneyTask.objects.get(pk=first.pk).status == "success"
