"""Midjourney from submit to result, against the fake gateway over HTTP, with the worker's jobs run in-process."""

import base64
import io
import itertools
import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from files.models import StoredFile
from midjourney import polling, submitting, sweeping
from midjourney.models import MidjourneyTask
from tests.fake_aitre.pictures import draw
from tests.helpers import run_jobs
from tests.midjourney.conftest import settled
from usage.models import Price, Quota, UsageDay, UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
JSON = {"HTTP_ACCEPT": "application/json"}
Status = MidjourneyTask.Status


def imagine(client: Client, prompt: str = "a lighthouse at dawn", **fields: str):
    return client.post(reverse("midjourney:imagine"), {"prompt": prompt, "bot_type": "MID_JOURNEY", **fields}, **JSON)


def finished(alice, prompt: str = "a lighthouse at dawn", client: Client | None = None) -> MidjourneyTask:
    client = client or _client(alice)
    answer = imagine(client, prompt)
    assert answer.status_code == 200, answer.content
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    run_jobs(until=settled(task))
    return task


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def png(name: str = "ref", size=(64, 64)) -> io.BytesIO:
    upload = io.BytesIO(draw(name, "png", size))
    upload.name = f"{name}.png"
    return upload


def test_imagine_is_accepted_charged_followed_and_kept(alice_client, alice, fake, prices, settings):
    answer = imagine(alice_client, "a lighthouse at dawn", aspect="16:9", version="6.1")
    assert answer.status_code == 200
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    sent = fake.mj_requests("/mj/submit/imagine")[0].body
    assert sent["botType"] == "MID_JOURNEY"
    assert sent["prompt"] == "a lighthouse at dawn --ar 16:9 --v 6.1"
    assert "notifyHook" not in sent
    # The id comes as a bare 16-digit number and is kept exactly, as a string.
    assert len(task.upstream_id) == 16 and task.upstream_id.isdigit()
    assert task.status == Status.SUBMITTED
    # Charged when accepted, per task, at the imagine price.
    charge = UsageRecord.objects.get(user=alice)
    assert (charge.kind, charge.model, charge.cost, charge.units) == ("midjourney", "mj_imagine", Decimal("0.10"), 1)

    seen: set[int] = set()

    def done() -> bool:
        task.refresh_from_db()
        seen.add(task.progress)
        return task.status == Status.SUCCESS

    run_jobs(until=done)
    # Progress moved through the steps rather than jumping to the end.
    assert {20, 40, 60, 80} & seen
    assert task.image is not None and task.image.source == StoredFile.Source.MIDJOURNEY
    assert task.image.owner == alice and (task.image.width, task.image.height) == (256, 256)
    assert [b["label"] for b in task.buttons][:4] == ["U1", "U2", "U3", "U4"]
    assert task.preview is None, "the preview goes once the result is kept"
    # Replaced previews stay for the page that may be loading one, then the sweep deletes them.
    settings.MIDJOURNEY_PREVIEW_SECONDS = 0
    sweeping.discard_old_previews()
    assert StoredFile.objects.filter(owner=alice, source=StoredFile.Source.MIDJOURNEY).count() == 1
    assert not task.refunded and UsageRecord.objects.count() == 1


def test_inline_options_win_over_the_fields(alice_client, fake):
    imagine(alice_client, "a cat --ar 1:1 --niji 6", aspect="16:9", bot_type="NIJI_JOURNEY")
    sent = fake.mj_requests("/mj/submit/imagine")[0].body
    assert sent["prompt"] == "a cat --ar 1:1 --niji 6" and sent["botType"] == "NIJI_JOURNEY"


@pytest.mark.parametrize(
    ("prompt", "status", "words"),
    [
        ("a banned thing", 422, "banned word (banned)"),
        ("queue full please", 422, "queue is full"),
    ],
)
def test_a_refused_submit_says_why_and_costs_nothing(alice_client, alice, fake, prompt, status, words, prices):
    answer = imagine(alice_client, prompt)
    assert answer.status_code == status
    assert words in answer.json()["error"]
    task = MidjourneyTask.objects.get(owner=alice)
    # A full queue may be tried again; a banned word needs the prompt edited (see the test below).
    assert task.status == Status.FAILURE and task.can_retry == ("banned" not in prompt)
    assert not UsageRecord.objects.exists()
    run_jobs()
    assert len(fake.mj_requests("fetch")) == 0


def test_validation_and_missing_task_codes_are_worded(alice, fake, prices):
    parent = finished(alice)
    # The gateway forgets the task (its link expired): pressing its button answers code 3.
    fake.state.mj_tasks.clear()
    child = submitting.press(parent, parent.buttons[0]["customId"])
    assert child.status == Status.FAILURE and "not found, or has expired" in child.error
    # Code 4: the gateway's own words about what was invalid.
    task = MidjourneyTask.objects.create(owner=alice, action="imagine", prompt="", bot_type="MID_JOURNEY")
    submitting.submit(task)
    assert task.status == Status.FAILURE and "prompt cannot be empty" in task.error
    assert UsageRecord.objects.filter(user=alice).count() == 1, "only the first imagine was charged"


def test_a_lost_answer_is_unknown_never_sent_again(alice_client, alice, fake, prices):
    answer = imagine(alice_client, "a lost answer here")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    assert task.status == Status.UNKNOWN and task.can_retry
    assert "may have started" in task.error
    sweeping.sweep()
    run_jobs()
    assert len(fake.mj_requests("/mj/submit/imagine")) == 1
    assert not UsageRecord.objects.exists()
    # Retry is the person's choice, and a new task.
    again = alice_client.post(reverse("midjourney:retry", args=[task.pk]), **JSON)
    assert again.status_code == 200 and again.json()["id"] != task.pk
    assert len(fake.mj_requests("/mj/submit/imagine")) == 2


def test_a_submit_whose_process_died_is_settled_as_unknown(alice):
    task = MidjourneyTask.objects.create(owner=alice, action="imagine", prompt="x")
    MidjourneyTask.objects.filter(pk=task.pk).update(created_at=task.created_at.replace(year=task.created_at.year - 1))
    assert sweeping.sweep() == (1, 0)
    task.refresh_from_db()
    assert task.status == Status.UNKNOWN


def test_a_failed_task_is_refunded_and_the_refund_shows(alice_client, alice, fake, prices, superuser_client):
    task = finished(alice, "this will fail", alice_client)
    assert task.status == Status.FAILURE
    assert "flagged by the moderator" in task.error and task.fail_reason
    assert task.refunded
    charge, refund = UsageRecord.objects.order_by("pk")
    assert refund.refund_of == charge and refund.cost == -charge.cost and refund.units == -1
    day = UsageDay.objects.get(user=alice)
    assert (day.calls, day.cost, day.refunded) == (1, Decimal(0), Decimal("0.10"))
    # Recounting the days from the records gives the same totals.
    UsageDay.objects.rebuild()
    again = UsageDay.objects.get(user=alice)
    assert (again.calls, again.cost, again.refunded) == (1, Decimal(0), Decimal("0.10"))
    # Refunded once, however often the end is written.
    polling.refund(MidjourneyTask.objects.select_related("charge").get(pk=task.pk))
    assert UsageRecord.objects.count() == 2
    page = alice_client.get(reverse("usage:page")).content.decode()
    assert 'data-stat="refunded"' in page and "0.10 USD was refunded" in page
    admin, _root = superuser_client
    dashboard = admin.get(reverse("admin:usage_dashboard")).content.decode()
    assert 'data-total="refunded" data-exact="0.100000000"' in dashboard


def test_a_cancelled_task_is_refunded(alice, fake, prices):
    task = finished(alice, "please cancel")
    assert task.status == Status.CANCEL and task.refunded


def test_a_task_that_never_moves_is_stalled_then_failed(alice, fake, prices, settings):
    settings.MIDJOURNEY_STALL_SECONDS = 0.8
    answer = imagine(_client(alice), "stuck forever")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    run_jobs(until=lambda: MidjourneyTask.objects.filter(pk=task.pk, stalled_at__isnull=False).exists())
    task.refresh_from_db()
    assert task.is_stalled and task.status == Status.IN_PROGRESS
    fetches = len(fake.mj_requests("fetch"))
    run_jobs(until=settled(task))
    assert len(fake.mj_requests("fetch")) > fetches, "asked again after being marked stalled"
    assert task.status == Status.FAILURE and "made no progress" in task.error and "10%" in task.error
    assert task.refunded


@pytest.mark.parametrize("answer", ["404", "empty", "null"])
def test_a_task_the_gateway_no_longer_knows_is_failed(alice, fake, prices, answer):
    fake.state.mj_unknown = answer
    task = finished(alice, "this will vanish")
    assert task.status == Status.FAILURE and "no longer knows" in task.error
    assert task.polls == 3, "given up after three answers of not found"
    assert task.refunded


def test_an_expired_picture_link_is_fetched_again(alice, fake):
    task = finished(alice, "an expired link")
    assert task.status == Status.SUCCESS and task.image is not None
    assert task.download_attempts == 1


def test_fetch_errors_back_off_and_the_task_still_finishes(alice, fake):
    fake.state.mj_fetch_status = 500
    answer = imagine(_client(alice), "a patient cat")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    run_jobs(until=lambda: MidjourneyTask.objects.get(pk=task.pk).fetch_errors >= 2)
    task.refresh_from_db()
    assert task.status == Status.SUBMITTED and task.next_poll_at is not None
    fake.state.mj_fetch_status = None
    run_jobs(until=settled(task))
    assert task.status == Status.SUCCESS and task.fetch_errors == 0


def test_only_one_chain_of_fetches_however_many_hints(alice, fake):
    answer = imagine(_client(alice), "a calm sea")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    for _ in range(5):
        polling.bring_forward(task.pk)
    run_jobs(until=settled(task))
    # Each fetch was the live round's: leftovers did nothing.
    assert len(fake.mj_requests("fetch")) == task.polls
    fetches = fake.mj_requests("fetch")
    assert all(a.ended <= b.started for a, b in itertools.pairwise(fetches))


def test_buttons_make_linked_tasks_priced_by_their_action(alice_client, alice, fake, prices):
    grid = finished(alice, "a red fox", alice_client)
    u2 = next(b["customId"] for b in grid.buttons if b["label"] == "U2")
    pressed = alice_client.post(reverse("midjourney:press", args=[grid.pk]), {"custom_id": u2}, **JSON)
    assert pressed.status_code == 200
    upscale = MidjourneyTask.objects.get(pk=pressed.json()["id"])
    assert upscale.parent == grid and upscale.action == "upscale" and upscale.button_label == "U2"
    sent = fake.mj_requests("/mj/submit/action")[-1].body
    assert sent["customId"] == u2 and sent["taskId"] == grid.upstream_id
    run_jobs(until=settled(upscale))
    assert upscale.status == Status.SUCCESS and not upscale.is_grid
    assert "Vary (Region)" in [b["label"] for b in upscale.buttons]
    assert upscale.charge.model == "mj_upscale" and upscale.charge.cost == Decimal("0.05")
    v1 = next(b["customId"] for b in grid.buttons if b["label"] == "V1")
    variation = submitting.press(grid, v1)
    run_jobs(until=settled(variation))
    assert variation.action == "variation" and variation.is_grid
    page = alice_client.get(upscale.get_absolute_url()).content.decode()
    assert grid.get_absolute_url() in page, "the lineage links back"
    # A button the task does not have is refused, and nothing is sent.
    before = len(fake.mj_requests())
    refused = alice_client.post(reverse("midjourney:press", args=[grid.pk]), {"custom_id": "MJ::JOB::made-up"}, **JSON)
    assert refused.status_code == 400 and len(fake.mj_requests()) == before


def mask(painted: bool = True) -> str:
    image = Image.new("L", (256, 256), 0)
    if painted:
        image.paste(255, (64, 64, 128, 128))
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_vary_region_waits_for_a_mask_and_a_prompt(alice_client, alice, fake, prices):
    grid = finished(alice, "a garden", alice_client)
    upscale = submitting.press(grid, grid.buttons[0]["customId"])
    run_jobs(until=settled(upscale))
    region = next(b["customId"] for b in upscale.buttons if "Inpaint" in b["customId"])
    waiting = submitting.press(upscale, region)
    assert waiting.status == Status.MODAL and waiting.upstream_id and waiting.charge is None
    page = alice_client.get(waiting.get_absolute_url()).content.decode()
    assert 'id="mask-canvas"' in page
    url = reverse("midjourney:modal", args=[waiting.pk])
    # No mask, an all-black mask, or something that is not a PNG: refused, nothing sent.
    for bad in ["", mask(painted=False), "data:image/png;base64,bm90IGEgcG5n"]:
        answer = alice_client.post(url, {"prompt": "a red hat", "mask": bad}, **JSON)
        assert answer.status_code == 400, bad[:40]
    assert not fake.mj_requests("/mj/submit/modal")
    answer = alice_client.post(url, {"prompt": "a red knitted hat", "mask": mask()}, **JSON)
    assert answer.status_code == 200
    sent = fake.mj_requests("/mj/submit/modal")[0].body
    assert sent["taskId"] == waiting.upstream_id and sent["maskBase64"].startswith("data:image/png;base64,")
    waiting.refresh_from_db()
    assert waiting.charge.model == "mj_modal"
    run_jobs(until=settled(waiting))
    assert waiting.status == Status.SUCCESS and waiting.is_grid


def test_custom_zoom_needs_a_prompt_but_no_mask(alice_client, alice, fake):
    grid = finished(alice, "a forest", alice_client)
    upscale = submitting.press(grid, grid.buttons[0]["customId"])
    run_jobs(until=settled(upscale))
    zoom = next(b["customId"] for b in upscale.buttons if "CustomZoom" in b["customId"])
    waiting = submitting.press(upscale, zoom)
    page = alice_client.get(waiting.get_absolute_url()).content.decode()
    assert "a forest --zoom 2" in page and 'id="mask-canvas"' not in page
    url = reverse("midjourney:modal", args=[waiting.pk])
    answer = alice_client.post(url, {"prompt": "a forest --zoom 1.8"}, **JSON)
    assert answer.status_code == 200
    run_jobs(until=settled(waiting))
    assert waiting.status == Status.SUCCESS


def test_blend_two_to_five_images(alice_client, alice, fake):
    url = reverse("midjourney:blend")
    one = alice_client.post(url, {"bot_type": "MID_JOURNEY", "dimensions": "PORTRAIT", "images": [png("a")]}, **JSON)
    assert one.status_code == 400 and "2 to 5" in one.json()["error"]
    assert not StoredFile.objects.exists(), "nothing kept from a refused form"
    library = StoredFile.objects.create(
        owner=alice, kind="image", source="upload", name="x", content_type="image/png", size=1
    )
    library.delete()
    answer = alice_client.post(
        url, {"bot_type": "MID_JOURNEY", "dimensions": "PORTRAIT", "images": [png("a"), png("b")]}, **JSON
    )
    assert answer.status_code == 200
    sent = fake.mj_requests("/mj/submit/blend")[0].body
    assert len(sent["base64Array"]) == 2 and sent["dimensions"] == "PORTRAIT"
    assert all(uri.startswith("data:image/png;base64,") for uri in sent["base64Array"])
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    # The uploads are the person's files now, in their library, and the task remembers them for Retry.
    assert StoredFile.objects.filter(owner=alice, source="upload").count() == 2 and len(task.inputs) == 2
    run_jobs(until=settled(task))
    assert task.status == Status.SUCCESS and task.is_grid


def test_blend_with_pictures_from_the_library_only_ones_own(alice_client, bob_client, alice, fake):
    grid = finished(alice, "a tree", alice_client)
    upload = alice_client.post(
        reverse("midjourney:blend"),
        {"bot_type": "MID_JOURNEY", "dimensions": "SQUARE", "images": [png("c")], "library": [str(grid.image_id)]},
        **JSON,
    )
    assert upload.status_code == 200
    stolen = bob_client.post(
        reverse("midjourney:blend"),
        {"bot_type": "MID_JOURNEY", "dimensions": "SQUARE", "images": [png("d")], "library": [str(grid.image_id)]},
        **JSON,
    )
    assert stolen.status_code == 400 and "not in your library" in stolen.json()["error"]


def test_describe_gives_four_prompts_each_imaginable(alice_client, alice, fake):
    answer = alice_client.post(reverse("midjourney:describe"), {"bot_type": "MID_JOURNEY", "images": [png()]}, **JSON)
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    assert fake.mj_requests("/mj/submit/describe")[0].body["base64"].startswith("data:image/png;base64,")
    run_jobs(until=settled(task))
    prompts = task.suggested_prompts()
    assert len(prompts) == 4 and prompts[0].startswith("a quiet harbour at dusk")
    card = alice_client.get(task.get_absolute_url()).content.decode()
    assert card.count("Imagine this") == 4


def test_shorten_gives_candidates(alice_client, alice, fake):
    answer = alice_client.post(
        reverse("midjourney:shorten"),
        {"bot_type": "MID_JOURNEY", "prompt": "a very long and detailed prompt about a cat in a garden"},
        **JSON,
    )
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    run_jobs(until=settled(task))
    assert task.status == Status.SUCCESS and len(task.suggested_prompts()) == 5


def test_split_a_grid_into_its_four_pictures(alice_client, alice, fake):
    grid = finished(alice, "four birds", alice_client)
    answer = alice_client.post(reverse("midjourney:split", args=[grid.pk]), **JSON)
    assert answer.status_code == 200
    parts = list(grid.parts())
    assert len(parts) == 4 and all((p.width, p.height) == (128, 128) for p in parts)
    colours = set()
    for part in parts:
        with part.blob.open("rb") as handle:
            colours.add(Image.open(handle).convert("RGB").getpixel((10, 10)))
    assert len(colours) == 4, "each part is its own quarter"
    alice_client.post(reverse("midjourney:split", args=[grid.pk]), **JSON)
    assert grid.parts().count() == 4, "a second split makes no more"


def test_look_up_a_task_by_id(alice_client, bob_client, alice, fake, superuser_client):
    task = finished(alice, "a bridge", alice_client)
    url = reverse("midjourney:lookup")
    assert alice_client.get(url, {"id": task.upstream_id}).url == task.get_absolute_url()
    assert bob_client.get(url, {"id": task.upstream_id}).status_code == 404
    assert alice_client.get(url, {"id": "12; drop"}).status_code == 400
    admin, _root = superuser_client
    seen = admin.get(url, {"id": task.upstream_id})
    assert seen.status_code == 200 and "alice" in seen.content.decode()
    # An id the site never stored: the admin sees what the gateway says.
    fake.state.mj_tasks["1111222233334444"] = {**fake.state.mj_tasks[task.upstream_id], "id": "1111222233334444"}
    assert "gateway says of it now" in admin.get(url, {"id": "1111222233334444"}).content.decode()


def test_a_look_up_refreshes_a_running_task(alice_client, alice, fake):
    answer = imagine(alice_client, "a slow river")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    # The gateway has finished it meanwhile.
    fake.state.mj_tasks[task.upstream_id]["started"] -= 100
    alice_client.get(reverse("midjourney:lookup"), {"id": task.upstream_id})
    task.refresh_from_db()
    assert task.status == Status.SUCCESS and task.polls == 1


def test_callbacks_bring_the_fetch_forward_and_are_not_believed(alice_client, alice, fake, settings, live_server):
    settings.SITE_URL = live_server.url
    # Fetches this far apart (minutes): only the callbacks can make it finish within run_jobs' minute.
    settings.MIDJOURNEY_POLL_SECONDS = 600.0
    answer = imagine(alice_client, "a windmill")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    hook = fake.mj_requests("/mj/submit/imagine")[0].body["notifyHook"]
    assert hook == live_server.url + reverse("midjourney:hook", args=[task.notify_token])
    assert len(task.notify_token) >= 40
    run_jobs(until=settled(task))
    assert task.status == Status.SUCCESS
    assert len(fake.state.mj_hook_calls) >= 3 and all(call["answer"] == 204 for call in fake.state.mj_hook_calls)
    # A forged callback claiming success changes nothing by itself, and a wrong token is a 404.
    other = MidjourneyTask.objects.create(
        owner=alice, action="imagine", prompt="x", status="submitted", upstream_id="9"
    )
    client = Client()
    forged = json.dumps({"id": "9", "status": "SUCCESS", "imageUrl": "https://evil.example/x.png"})
    hooked = client.post(reverse("midjourney:hook", args=[other.notify_token]), forged, "application/json")
    assert hooked.status_code == 204
    # It made the worker ask the gateway, which does not know the task: that is what is believed.
    run_jobs(until=lambda: MidjourneyTask.objects.get(pk=other.pk).polls >= 1)
    other.refresh_from_db()
    assert other.status == Status.SUBMITTED and other.image is None
    assert client.post(reverse("midjourney:hook", args=["not-a-token"]), forged, "application/json").status_code == 404


def test_quota_is_checked_before_a_submit(alice_client, alice, fake, prices):
    Quota.objects.create(user=alice, measure=Quota.Measure.COST, period=Quota.Period.MONTH, cost_limit="0.10")
    finished(alice, "first", alice_client)
    refused = imagine(alice_client, "second")
    assert refused.status_code == 429 and "Retry-After" in refused
    assert len(fake.mj_requests("/mj/submit/imagine")) == 1


def test_strangers_reach_nothing(alice, bob_client, fake):
    task = finished(alice, "a secret")
    for name in ["task", "follow"]:
        assert bob_client.get(reverse(f"midjourney:{name}", args=[task.pk])).status_code == 404
    for name in ["press", "retry", "split", "delete", "modal"]:
        assert bob_client.post(reverse(f"midjourney:{name}", args=[task.pk]), **JSON).status_code == 404
    assert MidjourneyTask.objects.filter(pk=task.pk).exists()


def test_follow_streams_progress_then_the_card(alice_client, alice, fake):
    answer = imagine(alice_client, "a kite")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    run_jobs(until=settled(task))
    streamed = alice_client.get(reverse("midjourney:follow", args=[task.pk]))
    body = b"".join(streamed.streaming_content).decode()
    assert "event: end" in body and "U2" in body


def test_delete_takes_the_pictures_too(alice_client, alice, fake):
    task = finished(alice, "a boat", alice_client)
    alice_client.post(reverse("midjourney:split", args=[task.pk]), **JSON)
    assert alice_client.post(reverse("midjourney:delete", args=[task.pk]), **JSON).json() == {"deleted": task.pk}
    assert not StoredFile.objects.filter(source=StoredFile.Source.MIDJOURNEY).exists()


def test_the_job_centre_lists_every_kind(alice_client, alice, fake):
    from audio.models import Transcription
    from images.models import Generation

    finished(alice, "a lantern", alice_client)
    Generation.objects.create(owner=alice, model="dall-e-3", prompt="a studio picture")
    Transcription.objects.create(owner=alice, name="meeting.mp3", model="whisper-1", status="complete")
    page = alice_client.get(reverse("jobs:page")).content.decode()
    assert "a lantern" in page and "a studio picture" in page and "meeting.mp3" in page
    streamed = alice_client.get(reverse("jobs:events"))
    first = next(chunk for chunk in streamed.streaming_content if b"event: jobs" in chunk)
    data = json.loads(first.decode().split("data: ", 1)[1])
    assert data["running"] == 1 and {job["key"].split("-")[0] for job in data["jobs"]} == {"mj", "image", "audio"}


def test_a_queued_task_shows_its_place(alice_client, alice, fake):
    answer = imagine(alice_client, "a queued picture")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    assert task.status == Status.SUBMITTED and task.queue_position == 3
    assert "data-queue-number>3<" in answer.json()["html"]
    run_jobs(until=settled(task))
    assert task.status == Status.SUCCESS and task.queue_position is None


def test_nothing_is_followed_for_ever(alice, fake, prices, settings):
    settings.MIDJOURNEY_GIVE_UP_SECONDS = 0.6
    task = finished(alice, "stuck for good")
    assert task.status == Status.FAILURE and "did not finish within" in task.error
    assert task.refunded and task.next_poll_at is None


def test_a_hint_while_a_fetch_is_under_way_is_not_lost(alice, fake):
    from datetime import timedelta

    from django.utils import timezone

    answer = imagine(_client(alice), "a busy harbour")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    # Another worker is fetching this round right now, and a callback brings the next fetch forward.
    MidjourneyTask.objects.filter(pk=task.pk).update(lease_until=timezone.now() + timedelta(seconds=1.5))
    assert polling.bring_forward(task.pk)
    # No sweep here: only the brought-forward job coming back once the lease is let go can finish it.
    run_jobs(until=settled(task), timeout=15)
    assert task.status == Status.SUCCESS


def test_niji_has_its_own_price_where_the_admin_set_one(alice_client, alice, fake, prices):
    from usage.models import Price

    Price.objects.create(model="mj_imagine", variant="niji", unit=Price.Unit.TASK, unit_price="0.25")
    imagine(alice_client, "a fox in a kimono", bot_type="NIJI_JOURNEY")
    imagine(alice_client, "a fox in a coat")
    niji, plain = UsageRecord.objects.order_by("pk")
    assert (niji.variant, niji.cost) == ("niji", Decimal("0.25"))
    assert (plain.variant, plain.cost) == ("", Decimal("0.10"))


@pytest.mark.parametrize(
    ("prompt", "picked", "bot", "cost"),
    [
        ("a cat --niji 6", "MID_JOURNEY", "NIJI_JOURNEY", Decimal("0.15")),
        ("a cat --v 6.1", "NIJI_JOURNEY", "MID_JOURNEY", Decimal("0.10")),
    ],
)
def test_a_model_written_inline_picks_the_bot_sent_and_charged(
    alice_client, alice, fake, prices, prompt, picked, bot, cost
):
    Price.objects.create(model="mj_imagine", variant="niji", unit=Price.Unit.TASK, unit_price="0.15")
    assert imagine(alice_client, prompt, bot_type=picked).status_code == 200
    sent = fake.mj_requests("/mj/submit/imagine")[0].body
    assert sent["botType"] == bot and sent["prompt"] == prompt
    assert MidjourneyTask.objects.get().bot_type == bot
    assert UsageRecord.objects.get(user=alice).cost == cost


def test_a_task_that_would_pass_the_limit_is_refused_before_it_is_sent(alice_client, alice, fake, prices):
    """Under a 0.15 limit with 0.10 spent, one imagine (0.10) took spending to 0.20."""
    Quota.objects.create(user=alice, measure=Quota.Measure.COST, period=Quota.Period.MONTH, cost_limit="0.15")
    finished(alice, "first", alice_client)
    refused = imagine(alice_client, "second")
    assert refused.status_code == 429
    assert "0.10 USD" in refused.json()["error"] and "0.05 USD left" in refused.json()["error"]
    assert len(fake.mj_requests("/mj/submit/imagine")) == 1
    assert UsageRecord.objects.get(user=alice).cost == Decimal("0.10")


@pytest.mark.django_db(transaction=True)
def test_the_job_centre_keeps_listening_while_nothing_runs(alice_client, alice):
    """Opened with nothing running, it stopped listening for 30 s: a job from another tab came 20 s late."""
    from images.models import Generation

    quiet = alice_client.get(reverse("jobs:events"))
    assert b"event: idle" in b"".join(quiet.streaming_content), "the count alone lets the stream go"

    stream = iter(alice_client.get(reverse("jobs:events") + "?stay=1").streaming_content)

    def next_jobs() -> dict:
        chunk = next(chunk for chunk in stream if b"event: jobs" in chunk or b"event: idle" in chunk)
        assert b"event: idle" not in chunk
        return json.loads(chunk.decode().split("data: ", 1)[1])

    assert next_jobs()["running"] == 0
    started = Generation.objects.create(owner=alice, model="dall-e-3", prompt="from another tab")
    assert next_jobs()["running"] == 1
    started.finish(status=Generation.Status.COMPLETE)
    ended = next_jobs()
    assert ended["running"] == 0 and ended["jobs"][0]["title"].endswith("from another tab")


def test_a_banned_word_offers_to_edit_the_prompt_not_to_send_it_again(alice_client, fake, prices):
    """Retry resent the refused prompt."""
    answer = imagine(alice_client, "a banned thing")
    assert answer.status_code == 422
    task = MidjourneyTask.objects.get()
    assert task.prompt_refused and not task.can_retry
    card = answer.json()["html"]
    assert "Edit the prompt" in card and 'class="retry"' not in card
    assert alice_client.post(reverse("midjourney:retry", args=[task.pk]), **JSON).status_code == 409
    assert len(fake.mj_requests("/mj/submit/imagine")) == 1
    page = alice_client.get(reverse("midjourney:page") + "?tab=imagine&prompt=a+banned+thing").content.decode()
    assert ">a banned thing</textarea>" in page


def test_words_count_what_they_say(alice_client, fake, settings):
    """ "within 0 minutes", "Choose from 0 to 5 images", "at most 1 images", a refusal that names no file."""
    from midjourney.polling import _span

    assert [_span(s) for s in (0.6, 1, 45, 60, 89, 600)] == [
        "1 second",
        "1 second",
        "45 seconds",
        "1 minute",
        "1 minute",
        "10 minutes",
    ]
    empty = io.BytesIO(b"")
    empty.name = "holiday.png"
    refused = alice_client.post(
        reverse("midjourney:imagine"),
        {
            "prompt": "a cat",
            "bot_type": "MID_JOURNEY",
            "images": [png("a"), png("b"), png("c"), png("d"), png("e"), png("f")],
        },
        **JSON,
    )
    assert refused.status_code == 400 and "Choose at most 5 images." in refused.json()["error"]
    refused = alice_client.post(
        reverse("midjourney:imagine"), {"prompt": "a cat", "bot_type": "MID_JOURNEY", "images": [empty]}, **JSON
    )
    assert refused.status_code == 400 and "holiday.png" in refused.json()["error"]
    studio = alice_client.post(reverse("images:generate"), {"model": "dall-e-3", "prompt": "cats", "n": 2}, **JSON)
    assert "dall-e-3 makes at most 1 image at once." in studio.json()["error"]


def test_the_history_pages_and_filters_every_task(alice_client, alice, bob):
    """Only the latest 30 tasks could be reached: older tasks and their buttons were lost."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for n in range(40):
        MidjourneyTask.objects.create(
            owner=alice,
            action="upscale" if n % 4 == 0 else "imagine",
            prompt=f"lighthouse number {n}" if n % 2 else f"a cat number {n}",
            status="failure" if n % 5 == 0 else "success",
            upstream_id=str(1_000_000_000_000_000 + n),
        )
    MidjourneyTask.objects.filter(prompt__endswith=" 0").update(created_at=now - timedelta(days=40))
    MidjourneyTask.objects.create(owner=bob, action="imagine", prompt="bob's lighthouse", status="success")

    def shown(query: str) -> list[str]:
        page = alice_client.get(reverse("midjourney:page") + query).content.decode()
        return re.findall(r'<p class="run-prompt">([^<]+)</p>', page)

    first, second = shown(""), shown("?page=2")
    assert len(first) == 30 and len(second) == 10
    assert "a cat number 0" in second and "bob's lighthouse" not in first + second
    assert set(shown("?status=failed")) == {f"{'lighthouse' if n % 2 else 'a cat'} number {n}" for n in range(0, 40, 5)}
    assert all("number" in p for p in shown("?action=upscale")) and len(shown("?action=upscale")) == 10
    assert len(shown("?q=lighthouse")) == 20 and len(shown("?q=lighthouse&page=2")) == 20
    old = (now - timedelta(days=30)).date().isoformat()
    assert shown(f"?until={old}") == ["a cat number 0"]
    assert "a cat number 0" not in shown(f"?since={old}")
    page = alice_client.get(reverse("midjourney:page") + "?q=cat&status=done").content.decode()
    assert 'href="?tab=imagine&amp;status=done&amp;q=cat&amp;page=2"' not in page  # 16 fit on one page
    assert "No task matches." in alice_client.get(reverse("midjourney:page") + "?q=zebra").content.decode()
    # Bad filters are left out, not a 500.
    assert alice_client.get(reverse("midjourney:page") + "?status=nope&since=yesterday&page=999").status_code == 200


def test_a_replaced_preview_can_still_be_loaded_by_the_page_that_was_sent_it(alice_client, alice, fake, prices):
    """The preview was deleted before the final picture showed: 404s in the console."""
    answer = imagine(alice_client, "a lighthouse at dawn")
    task = MidjourneyTask.objects.get(pk=answer.json()["id"])
    previews: set[str] = set()

    def done() -> bool:
        task.refresh_from_db()
        if task.preview is not None:
            previews.add(task.preview.get_absolute_url())
        return task.status == Status.SUCCESS

    run_jobs(until=done)
    assert previews, "the task showed previews while it rendered"
    for url in previews:
        assert alice_client.get(url).status_code == 200, "still there for the page that was sent it"
    assert sweeping.discard_old_previews() == 0, "not before MIDJOURNEY_PREVIEW_SECONDS"
    # Neither a part of the grid nor a picture of the library.
    assert not task.parts().exists()
    library = alice_client.get(reverse("files:library")).content.decode()
    assert library.count('class="library-item"') == 1
