"""The image studio over HTTP: each model family, its own parameters, failures, usage, runs that outlive the page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from files.models import StoredFile
from images.models import Generation
from tests.helpers import JSON, wait_for
from usage.models import Price, UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)


def generate(client, **fields):
    return client.post(reverse("images:generate"), {"n": 1, **fields}, **JSON)


def finished(pk: int) -> Generation:
    wait_for(lambda: not Generation.objects.get(pk=pk).is_running, timeout=15)
    return Generation.objects.get(pk=pk)


def test_dall_e_3_gets_its_own_parameters_and_shows_the_revised_prompt(alice_client, alice, fake):
    Price.objects.create(model="dall-e-3", variant="1024x1792 hd", unit="image", unit_price=Decimal("0.12"))
    response = generate(
        alice_client,
        model="dall-e-3",
        prompt="a white siamese cat",
        size="1024x1792",
        quality="hd",
        style="natural",
        background="transparent",
    )
    assert response.status_code == 200
    run = finished(response.json()["id"])
    assert run.status == "complete", run.error
    body = fake.image_requests()[-1].body
    assert body == {
        "model": "dall-e-3",
        "prompt": "a white siamese cat",
        "size": "1024x1792",
        "quality": "hd",
        "style": "natural",
        "response_format": "b64_json",
    }
    assert run.revised_prompt == "A detailed rendering of: a white siamese cat"
    [image] = StoredFile.objects.filter(source="studio", origin_id=run.pk)
    assert (image.owner, image.model, image.prompt) == (alice, "dall-e-3", "a white siamese cat")
    record = UsageRecord.objects.for_subject(run).get()
    assert (record.kind, record.units, record.variant, record.cost) == ("image", 1, "1024x1792 hd", Decimal("0.12"))
    assert run.cost == Decimal("0.12")
    page = alice_client.get(reverse("images:studio")).content.decode()
    assert "A detailed rendering of: a white siamese cat" in page
    assert image.thumbnail_url in page and "0.12 USD" in page


def test_gpt_image_1_makes_several_and_never_gets_a_response_format(alice_client, fake):
    run = finished(
        generate(
            alice_client,
            model="gpt-image-1",
            prompt="a fox",
            n=3,
            quality="low",
            background="transparent",
            output_format="webp",
            style="vivid",
        ).json()["id"]
    )
    assert run.status == "complete", run.error
    body = fake.image_requests()[-1].body
    assert "response_format" not in body and "style" not in body
    assert (body["n"], body["quality"], body["background"], body["output_format"]) == (3, "low", "transparent", "webp")
    assert StoredFile.objects.filter(origin_id=run.pk, source="studio").count() == 3
    record = UsageRecord.objects.for_subject(run).get()
    assert (record.units, record.prompt_tokens, record.completion_tokens) == (3, 12, 816)


def test_flux_answers_with_links_that_are_fetched_at_once(alice_client, fake):
    run = finished(generate(alice_client, model="flux-pro", prompt="mountains", n=2, quality="hd").json()["id"])
    assert run.status == "complete", run.error
    assert "quality" not in fake.image_requests()[-1].body
    assert fake.state.pictures_served == 2
    assert StoredFile.objects.filter(origin_id=run.pk).count() == 2


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"model": "dall-e-3", "prompt": "cats", "n": 2}, "at most 1 image at once"),
        ({"model": "dall-e-3", "prompt": "cats", "size": "256x256"}, "not a choice"),
        ({"model": "flux-pro", "prompt": "x" * 1001}, "at most 1000 characters"),
        ({"model": "not-offered", "prompt": "cats"}, "not one of the available choices"),
        ({"model": "dall-e-3", "prompt": ""}, "required"),
        (
            {"model": "gpt-image-1", "prompt": "a logo", "background": "transparent", "output_format": "jpeg"},
            "does not take Background “transparent” with Format “jpeg”",
        ),
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(alice_client, fake, fields, words):
    response = generate(alice_client, **fields)
    assert response.status_code == 400
    assert words in response.json()["error"]
    assert not Generation.objects.exists()
    assert not fake.image_requests()


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        ("policy", "safety system"),
        ("429", "try again"),
        ("500", "500"),
        ("empty", "without an image"),
    ],
)
def test_a_failed_call_says_why_and_records_nothing_billable(alice_client, fake, scenario, words):
    fake.script(scenario)
    run = finished(generate(alice_client, model="dall-e-3", prompt="a cat").json()["id"])
    assert run.status == "error"
    assert words.lower() in run.error.lower()
    assert not UsageRecord.objects.exists()
    page = alice_client.get(reverse("images:studio")).content.decode()
    assert "Retry" in page and "a cat" in page


def test_links_that_expired_before_they_were_fetched_are_refunded_and_retry_charges_once(alice_client, alice, fake):
    """Nothing delivered, nothing charged: the API's call is recorded, then refunded, as Midjourney does."""
    Price.objects.create(model="flux-pro", unit="image", unit_price=Decimal("0.05"))
    fake.script("expired")
    run = finished(generate(alice_client, model="flux-pro", prompt="a cat").json()["id"])
    assert run.status == "error" and "could not be kept" in run.error
    charge, refund = UsageRecord.objects.for_subject(run).order_by("pk")
    assert (charge.units, charge.cost, charge.succeeded) == (1, Decimal("0.05"), False)
    assert refund.refund_of == charge and refund.cost == Decimal("-0.05")
    assert run.cost == 0
    page = alice_client.get(reverse("images:studio")).content.decode()
    assert "0.05 USD" not in page

    again = finished(alice_client.post(reverse("images:retry", args=[run.pk]), **JSON).json()["id"])
    assert again.status == "complete"
    assert sum(r.cost for r in UsageRecord.objects.filter(user=alice)) == Decimal("0.05"), "charged once in all"


def test_over_the_send_rate_nothing_starts(alice_client, settings, fake):
    settings.CHAT_SENDS_PER_MINUTE = 1
    finished(generate(alice_client, model="dall-e-3", prompt="one").json()["id"])
    response = generate(alice_client, model="dall-e-3", prompt="two")
    assert response.status_code == 429 and response["Retry-After"]
    assert Generation.objects.count() == 1


def test_a_run_whose_process_died_shows_as_interrupted_and_is_never_run_again_by_itself(alice_client, alice, fake):
    run = Generation.objects.create(owner=alice, model="dall-e-3", prompt="lost", params={"size": "1024x1024"})
    Generation.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    page = alice_client.get(reverse("images:studio")).content.decode()
    run.refresh_from_db()
    assert run.status == "interrupted"
    assert "interrupted" in page and "Retry" in page
    assert not fake.image_requests()
    response = alice_client.post(reverse("images:retry", args=[run.pk]), **JSON)
    again = finished(response.json()["id"])
    assert again.pk != run.pk and again.status == "complete"
    assert (again.prompt, again.params) == ("lost", {"size": "1024x1024"})
    assert len(fake.image_requests()) == 1


def test_a_run_goes_on_without_the_page_and_its_follower_ends_with_it(alice_client, fake):
    fake.script("slow")
    fake.state.image_delay = 1.5
    pk = generate(alice_client, model="dall-e-3", prompt="patience").json()["id"]
    # Nobody follows; the run finishes and is kept all the same.
    run = finished(pk)
    assert run.status == "complete"
    events = b"".join(alice_client.get(reverse("images:follow", args=[pk])).streaming_content).decode()
    assert "event: end" in events and "complete" in events


def test_deleting_a_run_removes_its_images(alice_client, fake):
    run = finished(generate(alice_client, model="dall-e-3", prompt="gone").json()["id"])
    image = StoredFile.objects.get(origin_id=run.pk)
    storage, name = image.blob.storage, image.blob.name
    response = alice_client.post(reverse("images:delete", args=[run.pk]), **JSON)
    assert response.status_code == 200
    assert not Generation.objects.exists() and not StoredFile.objects.exists()
    assert not storage.exists(name)
