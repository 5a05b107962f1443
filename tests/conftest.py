from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from aitre import catalog, credentials
from chat.models import Conversation, Message
from files import policy as files_policy
from tests.fake_aitre import FakeAitre

# Fixtures for the browser tests (headless Chromium) and for real server processes.
pytest_plugins = ["tests.browser", "tests.instances"]

TEST_KEY = "sk-test-SECRETKEY-e2e-4321"


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeAitre]:
    server = FakeAitre().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fake(fake_server: FakeAitre, settings, tmp_path) -> Iterator[FakeAitre]:
    """Every test talks to a fresh fake AITRE over real HTTP, and keeps its files in a fresh directory."""
    fake_server.reset()
    settings.MEDIA_ROOT = tmp_path / "media"
    files_policy.forget()
    settings.AITRE_BASE_URL = fake_server.base_url
    settings.AITRE_STREAM_IDLE_TIMEOUT = 5.0
    cache.clear()
    credentials.forget()
    catalog.forget_settings()
    yield fake_server
    cache.clear()
    credentials.forget()
    catalog.forget_settings()
    files_policy.forget()


@pytest.fixture
def alice(db) -> User:
    """The owner in most tests."""
    return User.objects.create_user("alice", "alice@example.org", "alice-password-1")


@pytest.fixture
def bob(db) -> User:
    """Someone who must see nothing of Alice's."""
    return User.objects.create_user("bob", "bob@example.org", "bob-password-1")


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def conversation(alice: User) -> Conversation:
    return Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Alice's chat")


@pytest.fixture
def owned(alice, conversation) -> dict[str, int]:
    """A question and its reply in Alice's conversation: the objects strangers must not reach."""
    question = Message.objects.create(conversation=conversation, role="user", content="Alice's secret question")
    reply = Message.objects.create(conversation=conversation, parent=question, role="assistant", content="An answer")
    conversation.touch(current_leaf=reply)
    return {"conversation": conversation.pk, "message": reply.pk, "question": question.pk}


@pytest.fixture
def superuser_client(db) -> tuple[Client, User]:
    """An admin with every permission Django gives a superuser, and so not the one to read message text."""
    root = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    client = Client()
    client.force_login(root)
    return client, root
