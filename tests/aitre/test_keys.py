"""Stored keys: encrypted at rest, never shown back, used by precedence, never leaked."""

import logging
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import User
from aitre import crypto
from aitre.models import Credential
from chat.models import Message
from tests.conftest import TEST_KEY

STORED_KEY = "sk-stored-SITE-key-77aa99"
PERSONAL_KEY = "sk-personal-ALICE-key-5511"


@pytest.fixture
def admin_client(db):
    admin = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    client = Client()
    client.force_login(admin)
    return client


ROOT = Path(__file__).resolve().parents[2]


def raw_rows() -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Credential._meta.db_table}")
        return repr(cursor.fetchall())


def test_an_admin_stores_a_site_key_encrypted_and_masked(admin_client, fake):
    response = admin_client.post(
        reverse("admin:aitre_credential_add"),
        {"name": "AITRE", "base_url": fake.base_url, "api_key": STORED_KEY, "is_active": "on"},
    )
    assert response.status_code == 302
    assert STORED_KEY not in raw_rows()
    credential = Credential.objects.get()
    assert credential.key == STORED_KEY
    for url in [
        reverse("admin:aitre_credential_changelist"),
        reverse("admin:aitre_credential_change", args=[credential.pk]),
    ]:
        page = admin_client.get(url).content.decode()
        assert "••••aa99" in page
        assert STORED_KEY not in page


def test_saving_a_credential_without_a_new_key_keeps_the_old_one(admin_client, fake):
    credential = Credential(name="AITRE", base_url=fake.base_url)
    credential.set_key(STORED_KEY)
    credential.save()
    admin_client.post(
        reverse("admin:aitre_credential_change", args=[credential.pk]),
        {"name": "Renamed", "base_url": fake.base_url, "api_key": "", "is_active": "on"},
    )
    credential.refresh_from_db()
    assert (credential.name, credential.key) == ("Renamed", STORED_KEY)


def test_the_stored_site_key_wins_over_the_environment_and_a_personal_key_over_both(
    alice_client, alice, conversation, fake
):
    site = Credential(name="AITRE", base_url=fake.base_url)
    site.set_key(STORED_KEY)
    site.save()
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    assert fake.chat_requests()[-1].headers["Authorization"] == f"Bearer {STORED_KEY}"

    response = alice_client.post(reverse("chat:account"), {"api_key": PERSONAL_KEY})
    assert response.status_code == 302
    page = alice_client.get(reverse("chat:account")).content.decode()
    assert "••••5511" in page and PERSONAL_KEY not in page
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Again"})
    assert fake.chat_requests()[-1].headers["Authorization"] == f"Bearer {PERSONAL_KEY}"

    alice_client.post(reverse("chat:account"), {"action": "remove"})
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Third"})
    assert fake.chat_requests()[-1].headers["Authorization"] == f"Bearer {STORED_KEY}"


@pytest.mark.parametrize(("personal", "says"), [(False, "the site's key"), (True, "your personal key")])
def test_a_rejected_key_is_named_for_whose_it_is(alice_client, conversation, fake, personal, says):
    if personal:
        alice_client.post(reverse("chat:account"), {"api_key": PERSONAL_KEY})
    fake.script("401")
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    reply = Message.objects.get(role="assistant")
    assert reply.status == "error" and f"The API rejected {says} (401)" in reply.error


def test_the_environment_key_is_the_fallback(alice_client, conversation, fake):
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    assert fake.chat_requests()[-1].headers["Authorization"] == f"Bearer {TEST_KEY}"


def test_rotating_the_encryption_key_keeps_stored_keys_readable(db, settings):
    credential = Credential(name="old")
    credential.set_key(STORED_KEY)
    credential.save()
    new_key = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGw="
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    assert Credential.objects.get().key == STORED_KEY
    from django.core.management import call_command

    call_command("rotate_api_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Credential.objects.get().key == STORED_KEY
    assert crypto.decrypt(Credential.objects.get().encrypted_key) == STORED_KEY


def test_users_cannot_see_the_admin(alice_client):
    response = alice_client.get(reverse("admin:aitre_credential_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_every_admin_page_opens(admin_client, alice, conversation, fake):
    alice_client = Client()
    alice_client.force_login(alice)
    alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Hi"})
    for name in [
        "accounts_user",
        "chat_conversation",
        "aitre_credential",
        "aitre_modelsetting",
        "usage_usagerecord",
        "usage_price",
        "usage_quota",
        "usage_quotatopup",
    ]:
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    for name in ["usage_price", "usage_quota", "usage_quotatopup"]:
        assert admin_client.get(reverse(f"admin:{name}_add")).status_code == 200, name
    assert admin_client.get(reverse("admin:usage_dashboard")).status_code == 200
    assert "Usage dashboard" in admin_client.get(reverse("admin:index")).content.decode()
    page = admin_client.get(reverse("admin:chat_conversation_change", args=[conversation.pk])).content.decode()
    assert "complete" in page
    assert admin_client.get(reverse("admin:usage_usagerecord_changelist"), {"model": "gpt-4o-mini"}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_key_never_appears_in_a_page_a_stream_a_log_or_an_error(alice, fake, caplog):
    caplog.set_level(logging.DEBUG)
    client = Client()
    client.force_login(alice)
    bodies: list[str] = []

    def keep(response) -> None:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        bodies.append(content.decode(errors="replace") + repr(response.headers))

    keep(client.get("/"))
    fake.script("echo-key")
    keep(client.post(reverse("chat:start"), {"text": "Hi", "model": "gpt-4o-mini"}))
    conversation = alice.conversations.get()
    keep(client.get(reverse("chat:conversation", args=[conversation.pk])))
    reply = Message.objects.get(role="assistant")
    assert reply.status == "error"
    fake.script("401")
    data = client.post(reverse("chat:regenerate", args=[reply.pk]), HTTP_ACCEPT="application/json")
    keep(data)
    keep(client.get(data.json()["stream"]))
    keep(client.get(reverse("chat:account")))
    keep(client.get(reverse("usage:page")))
    for module in (ROOT / "chat/static/chat").glob("*.js"):
        keep(client.get(f"/static/chat/{module.name}"))
    keep(client.get("/static/site/site.js"))
    joined = "\n".join(bodies) + "\n".join(r.getMessage() for r in caplog.records)
    assert TEST_KEY not in joined
    assert "Incorrect API key provided" in caplog.text, "the upstream's own words reach the log, redacted"
    assert Message.objects.filter(error__contains=TEST_KEY).count() == 0
