"""
Model capabilities: guessed once, when the live list first shows a model;
the admin's word from then on; every feature is offered only the models
whose capability fits.
"""

import pytest
from django.urls import reverse

from aitre import catalog
from aitre.capabilities import Capability, guess
from aitre.models import ModelSetting


@pytest.mark.parametrize(
    ("model", "capabilities"),
    [
        ("gpt-4o-mini", ["chat", "vision"]),
        ("gpt-4o-image", ["chat", "vision", "image_output"]),
        ("dall-e-3", ["image_generation"]),
        ("gpt-image-1", ["image_generation"]),
        ("flux-kontext-pro", ["image_generation"]),
        ("tts-1-hd", ["speech"]),
        ("whisper-1", ["transcription"]),
        ("text-embedding-3-large", ["embeddings"]),
        ("gpt-3.5-turbo-instruct", ["completions"]),
        ("midjourney", ["midjourney"]),
        ("llama-3.1-8b-instruct-q4", ["chat"]),
        ("qwen2.5-7b", ["chat"]),
        ("qwen2.5-7b-instruct", ["chat"]),
        ("mistral-7b-instruct", ["chat"]),
    ],
)
def test_a_first_guess_from_the_name(model, capabilities):
    assert guess(model) == capabilities


def test_models_seen_in_the_live_list_get_a_setting_with_their_capabilities(alice_client, fake):
    alice_client.get(reverse("chat:home"))
    settings = {s.name: s for s in ModelSetting.objects.all()}
    assert set(settings) == set(fake.state.models)
    assert settings["whisper-1"].capabilities == ["transcription"] and settings["whisper-1"].discovered
    alice_client.get(reverse("chat:home"))
    assert ModelSetting.objects.count() == len(fake.state.models), "each model once"


def test_the_chat_picker_offers_only_chat_models(alice, alice_client, fake):
    page = alice_client.get(reverse("chat:home")).content.decode()
    offered = set(catalog.offered_models(alice))
    assert offered == {"gpt-4o-mini", "gpt-4o", "gpt-4o-image"}
    for name in offered:
        assert f'<option value="{name}"' in page
    for name in ("tts-1", "whisper-1", "text-embedding-3-large", "dall-e-3"):
        assert f'<option value="{name}"' not in page, name


def test_each_feature_gets_the_models_of_its_capability(alice, fake):
    assert catalog.offered_models(alice, Capability.EMBEDDINGS) == ["text-embedding-3-large", "text-embedding-3-small"]
    assert catalog.offered_models(alice, Capability.COMPLETIONS) == ["gpt-3.5-turbo-instruct"]
    assert catalog.offered_models(alice, Capability.IMAGE_GENERATION) == ["dall-e-3", "flux-pro", "gpt-image-1"]
    assert catalog.offered_models(alice, Capability.SPEECH) == ["tts-1"]
    assert catalog.offered_models(alice, Capability.VISION) == ["gpt-4o", "gpt-4o-image", "gpt-4o-mini"]


def test_the_admins_word_beats_the_guess(alice, fake, admin_client):
    catalog.offered_models(alice)
    setting = ModelSetting.objects.get(name="gpt-4o")
    response = admin_client.post(
        reverse("admin:aitre_modelsetting_change", args=[setting.pk]),
        {"name": "gpt-4o", "label": "", "offered": "on", "capabilities": ["embeddings"]},
    )
    assert response.status_code == 302
    assert ModelSetting.objects.get(name="gpt-4o").capabilities == ["embeddings"]
    assert "gpt-4o" not in catalog.offered_models(alice)
    assert catalog.offered_models(alice, Capability.EMBEDDINGS) == [
        "gpt-4o",
        "text-embedding-3-large",
        "text-embedding-3-small",
    ]


def test_a_model_the_admin_adds_is_offered_unlisted_a_discovered_one_only_while_listed(alice, fake):
    catalog.offered_models(alice)
    ModelSetting.objects.create(name="house-model", capabilities=["chat"])
    fake.state.models.remove("gpt-4o")
    from django.core.cache import cache

    cache.clear()
    offered = catalog.offered_models(alice)
    assert "house-model" in offered, "the admin added it by hand"
    assert "gpt-4o" not in offered, "found in the list once, gone from it now"


def test_the_admin_lists_models_by_capability(alice, fake, admin_client):
    catalog.offered_models(alice)
    page = admin_client.get(reverse("admin:aitre_modelsetting_changelist"), {"can": "speech"}).content.decode()
    assert "tts-1" in page and "whisper-1" not in page


def test_a_models_setting_is_read_once_for_a_few_seconds_and_a_save_is_seen_at_once(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ModelSetting.objects.create(name="gpt-4o-mini", max_tokens=100)
    assert catalog.setting_for("gpt-4o-mini").max_tokens == 100
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            catalog.setting_for("gpt-4o-mini")
    assert len(queries) == 0
    setting = ModelSetting.objects.get(name="gpt-4o-mini")
    setting.max_tokens = 200
    setting.save()
    assert catalog.setting_for("gpt-4o-mini").max_tokens == 200, "a save in this process clears the copy"
    setting.delete()
    assert catalog.setting_for("gpt-4o-mini").pk is None
