"""Nothing leaks, nothing breaks, nothing is lost: each promise of the security issue as a test."""

import logging
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from accounts.models import User
from aitre.models import Credential
from chat.models import ContentAccess, Conversation, Message
from chat.rendering import render_markdown

from .conftest import TEST_KEY
from .xss_payloads import EVIL, PAYLOADS

JSON = {"HTTP_ACCEPT": "application/json"}

# --- Every URL, classified --------------------------------------------------------------------

# Anyone may open these.
PUBLIC = {"login", "logout", "signup", "set_language"}
# A signed-in user's own pages, naming no object.
SIGNED_IN = {"chat:home", "chat:start", "chat:account", "usage:page", "password_change", "password_change_done"}
# Pages naming a conversation or a message: their owner's alone.
OWNED_CONVERSATION = {"chat:conversation", "chat:send", "chat:settings", "chat:pin", "chat:delete"}
OWNED_MESSAGE = {"chat:stream", "chat:stop", "chat:regenerate", "chat:edit", "chat:select"}


def every_url_pattern() -> list[tuple[str | None, str]]:
    def walk(patterns, prefix="", namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(part for part in (namespace, pattern.namespace) if part)
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            else:
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                yield name, prefix + str(pattern.pattern)

    return list(walk(get_resolver().url_patterns))


def is_admin(name: str | None, route: str) -> bool:
    return route.startswith("admin/")


def url_for(name: str | None, route: str, ids: dict[str, int]) -> str:
    """A concrete URL for a pattern, with the ids of objects Alice owns."""
    values = {
        "pk": str(ids["pk"]),
        "id": str(ids["pk"]),
        "object_id": str(ids["pk"]),
        "app_label": "chat",
        "content_type_id": str(ContentType.objects.get_for_model(Conversation).pk),
        "url": "nowhere/",
    }
    keys = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)
    kwargs = {key: values[key] for pair in keys for key in pair if key}
    if name:
        return reverse(name, kwargs=kwargs)
    concrete = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    concrete = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], concrete)
    return "/" + concrete.strip("^$")


def test_every_url_is_classified():
    """A new URL must be put in one of the tables above, and so be tested by the walk below."""
    known = PUBLIC | SIGNED_IN | OWNED_CONVERSATION | OWNED_MESSAGE
    unclassified = [
        (name, route) for name, route in every_url_pattern() if name not in known and not is_admin(name, route)
    ]
    assert unclassified == []


@pytest.fixture
def owned(alice, conversation) -> dict[str, int]:
    question = Message.objects.create(conversation=conversation, role="user", content="Alice's secret question")
    reply = Message.objects.create(conversation=conversation, parent=question, role="assistant", content="An answer")
    conversation.touch(current_leaf=reply)
    return {"conversation": conversation.pk, "message": reply.pk, "question": question.pk}


def alices_state() -> list:
    return [
        list(Conversation.objects.values_list("pk", "title", "pinned", "model", "system_prompt", "current_leaf_id")),
        list(Message.objects.values_list("pk", "content", "status", "cancel_requested")),
    ]


def test_objects_are_not_found_for_anyone_but_their_owner(owned, bob_client, fake):
    before = alices_state()
    checked = 0
    for name, route in every_url_pattern():
        if name not in OWNED_CONVERSATION | OWNED_MESSAGE:
            continue
        ids = {"pk": owned["conversation"] if name in OWNED_CONVERSATION else owned["message"]}
        url = url_for(name, route, ids)
        answers = [
            bob_client.get(url).status_code,
            bob_client.post(url, {"text": "Mine now", "title": "Stolen"}).status_code,
            bob_client.post(url, {"text": "Mine now"}, **JSON).status_code,
        ]
        assert set(answers) <= {404, 405} and 404 in answers, (url, answers)
        checked += 1
    assert checked == len(OWNED_CONVERSATION | OWNED_MESSAGE)
    assert alices_state() == before, "nothing changed"
    assert not fake.chat_requests()


def test_anonymous_visitors_are_sent_to_log_in(owned, client):
    for name, route in every_url_pattern():
        if name not in SIGNED_IN | OWNED_CONVERSATION | OWNED_MESSAGE:
            continue
        pk = owned["conversation"] if name in OWNED_CONVERSATION else owned["message"]
        url = url_for(name, route, {"pk": pk})
        for response in (client.get(url), client.post(url, {"text": "x"})):
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/?next="), url


def test_admin_pages_refuse_everyone_but_staff(owned, alice_client, client):
    admin_urls = [
        url_for(name, route, {"pk": owned["conversation"]})
        for name, route in every_url_pattern()
        if is_admin(name, route) and name not in ("admin:login", "admin:logout")
    ]
    assert len(admin_urls) > 50
    for url in admin_urls:
        for visitor in (client, alice_client):
            response = visitor.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
            assert "Alice&#x27;s secret question" not in response.content.decode()


def test_users_store_a_key_but_never_a_base_url(alice, alice_client):
    alice_client.post(reverse("chat:account"), {"api_key": "sk-alice-own-key-1234", "base_url": "http://10.0.0.1/"})
    credential = Credential.objects.get(user=alice)
    assert credential.base_url == "", "a user cannot point the server at another address"
    assert credential.key == "sk-alice-own-key-1234"


# --- Reading message text: a permission of its own, and an audit trail ---------------------------


@pytest.fixture
def superuser_client(db) -> tuple[Client, User]:
    root = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    client = Client()
    client.force_login(root)
    return client, root


def test_admins_see_metadata_but_not_message_text_without_the_permission(owned, superuser_client):
    client, _ = superuser_client
    change = client.get(reverse("admin:chat_conversation_change", args=[owned["conversation"]])).content.decode()
    assert "Alice&#x27;s secret question" not in change and "Alice's secret question" not in change
    assert "Read messages" not in change
    refused = client.get(reverse("admin:chat_conversation_transcript", args=[owned["conversation"]]))
    assert refused.status_code == 403, "superuser status alone does not carry it"
    assert "Alice" not in refused.content.decode()
    assert not ContentAccess.objects.exists()


@pytest.mark.parametrize("through", ["user", "group"])
def test_reading_with_the_permission_is_recorded_and_the_owner_sees_it(owned, superuser_client, alice_client, through):
    client, root = superuser_client
    permission = Permission.objects.get(codename="read_message_content")
    if through == "user":
        root.user_permissions.add(permission)
    else:
        readers = Group.objects.create(name="Readers")
        readers.permissions.add(permission)
        root.groups.add(readers)
    change = client.get(reverse("admin:chat_conversation_change", args=[owned["conversation"]])).content.decode()
    assert "Read messages" in change
    page = client.get(reverse("admin:chat_conversation_transcript", args=[owned["conversation"]]))
    assert page.status_code == 200 and "Alice&#x27;s secret question" in page.content.decode()
    access = ContentAccess.objects.get()
    assert (access.reader, access.owner.username, access.conversation_id) == (root, "alice", owned["conversation"])
    settings_page = alice_client.get(reverse("chat:account")).content.decode()
    assert "Who has read your conversations" in settings_page
    assert "root" in settings_page[settings_page.index('id="content-accesses"') :]


def test_the_audit_log_cannot_be_edited_or_deleted(owned, superuser_client):
    client, root = superuser_client
    root.user_permissions.add(Permission.objects.get(codename="read_message_content"))
    client.get(reverse("admin:chat_conversation_transcript", args=[owned["conversation"]]))
    access = ContentAccess.objects.get()
    assert client.post(reverse("admin:chat_contentaccess_delete", args=[access.pk]), {"post": "yes"}).status_code == 403
    assert ContentAccess.objects.filter(pk=access.pk).exists()


# --- Sanitizing: every payload renders inert ---------------------------------------------------------


class Inspector(HTMLParser):
    """Everything in the rendered HTML that could run, load or restyle."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style", "iframe", "object", "embed", "form", "meta", "base", "link", "svg", "math"}:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name in {"style", "srcset", "ping", "background", "formaction"}:
                self.problems.append(f"{tag}[{name}]")
            if name in {"href", "src", "action", "data", "xlink:href"}:
                scheme = urlsplit(value.strip()).scheme.lower()
                # A link may be relative (it loads nothing until clicked); nothing else may.
                if scheme not in {"http", "https", "mailto"} and not (tag == "a" and name == "href" and not scheme):
                    self.problems.append(f"{tag}[{name}={value}]")
            if tag == "img" and name == "src":
                self.problems.append(f"img from {value}")
            if tag == "a" and name == "rel":
                assert {"noopener", "noreferrer"} <= set(value.split())


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_payload_renders_inert(payload):
    inspector = Inspector()
    inspector.feed(render_markdown(payload))
    assert inspector.problems == []


def test_the_corpus_is_big_and_covers_every_kind_of_attack():
    assert len(PAYLOADS) >= 50
    text = "\n".join(PAYLOADS).lower()
    for marker in ["<script", "onerror=", "javascript:", "data:", "<svg", "<math", "```", "![", "style", EVIL]:
        assert marker in text, marker


def test_images_load_only_from_allowed_hosts(settings):
    settings.CHAT_IMAGE_HOSTS = ["images.example"]
    html = render_markdown("![ok](https://images.example/a.png) ![no](https://evil.example/b.png)")
    assert '<img src="https://images.example/a.png" alt="ok">' in html
    assert '<a href="https://evil.example/b.png"' in html and '<img src="https://evil.example' not in html


# --- Abuse and bad input ----------------------------------------------------------------------------


def log_in(client: Client, username: str, password: str, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def test_login_locks_an_account_out_after_repeated_failures(alice, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    client = Client()
    for _ in range(3):
        assert log_in(client, "alice", "wrong").status_code == 400
    locked = log_in(client, "alice", "alice-password-1")
    assert locked.status_code == 429, "even the right password waits out the lock-out"
    assert "Too many failed attempts to log in. Try again in 15 minutes." in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not locked by Alice's.
    User.objects.create_user("carol", password="carol-password-1")
    assert log_in(Client(), "carol", "carol-password-1").status_code == 302


def test_login_locks_an_address_out_after_failures_on_many_accounts(alice, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 4
    settings.TRUSTED_PROXIES = 1
    attacker = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    for name in ["a", "b", "c", "d"]:
        log_in(Client(), name, "guess", **attacker)
    assert log_in(Client(), "alice", "alice-password-1", **attacker).status_code == 429
    # Spoofing an earlier hop does not help: the router's own entry is the one counted.
    spoofed = {"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.9"}
    assert log_in(Client(), "alice", "alice-password-1", **spoofed).status_code == 429
    assert log_in(Client(), "alice", "alice-password-1", HTTP_X_FORWARDED_FOR="192.0.2.7").status_code == 302


def test_the_admin_login_is_throttled_too(alice, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "alice", "password": "wrong"})
    page = client.post("/admin/login/", {"username": "alice", "password": "alice-password-1"}).content.decode()
    assert "Too many failed attempts to log in." in page


def test_passwords_are_validated(db, settings):
    settings.SIGNUP = "open"
    response = Client().post(reverse("signup"), {"username": "dave", "password1": "12345678", "password2": "12345678"})
    assert response.status_code == 400
    assert "This password is too common." in response.content.decode()
    assert not User.objects.filter(username="dave").exists()


def test_sending_too_fast_is_a_clear_429_that_keeps_the_text(alice_client, conversation, fake, settings):
    settings.CHAT_SENDS_PER_MINUTE = 2
    for text in ["one", "two"]:
        assert alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": text}).status_code == 302
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "three"}, **JSON)
    assert response.status_code == 429
    assert "You are sending messages too fast." in response.json()["error"]
    assert 1 <= int(response["Retry-After"]) <= 60
    page = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "three"})
    assert page.status_code == 429 and ">three</textarea>" in page.content.decode()
    assert len(fake.chat_requests()) == 2
    assert not Message.objects.filter(content="three").exists()


@pytest.mark.parametrize(
    ("url_name", "data", "error"),
    [
        ("chat:send", {"text": "x" * 100_001}, "Ensure this value has at most 100000 characters"),
        ("chat:send", {"text": "   "}, "Write something first."),
        ("chat:send", {"text": "hi", "client_id": "<script>"}, "Enter a valid value."),
        ("chat:settings", {"model": "gpt-4o-mini", "title": "t" * 201}, "at most 200 characters"),
        ("chat:settings", {"model": "gpt-4o-mini", "system_prompt": "s" * 20_001}, "The system prompt is too long"),
        ("chat:settings", {"model": "gpt-4o-mini", "temperature": "7"}, "Temperature must be between 0 and 2."),
        ("chat:settings", {"model": "gpt-4o-mini", "temperature": "warm"}, "Enter a number."),
        ("chat:settings", {"model": "no-such-model"}, "This model is not offered."),
    ],
)
def test_bad_input_is_a_clear_400_and_changes_nothing(alice_client, conversation, fake, url_name, data, error):
    before = alices_state()
    response = alice_client.post(reverse(url_name, args=[conversation.pk]), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert alices_state() == before
    assert not fake.chat_requests()


def test_an_unknown_model_for_a_new_chat_is_refused(alice_client, fake):
    response = alice_client.post(reverse("chat:start"), {"text": "Hi", "model": "gpt-9-ultra"}, **JSON)
    assert response.status_code == 400 and "This model is not offered." in response.json()["error"]
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("accept", ["text/event-stream", "application/json", "text/html"])
def test_a_paste_over_the_request_limit_gets_the_length_message_and_no_traceback(
    alice_client, conversation, settings, fake, caplog, accept
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    caplog.set_level(logging.INFO)
    before = alices_state()
    response = alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "x" * 5000}, HTTP_ACCEPT=accept)
    assert response.status_code == 413
    message = response.json()["error"] if accept != "text/html" else response.content.decode()
    assert "a message may have at most 100,000 characters" in message
    assert alices_state() == before and not fake.chat_requests()
    # Django notes every 4xx as a warning line; an error or a traceback is another matter.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], "a clear answer, not an error"


def test_a_replayed_send_is_recorded_once(alice_client, conversation, fake):
    data = {"text": "Only once, please", "client_id": "a1b2c3d4e5f6a7b8"}
    first = alice_client.post(reverse("chat:send", args=[conversation.pk]), data)
    again = alice_client.post(reverse("chat:send", args=[conversation.pk]), data)
    assert first["Location"] == again["Location"], "the replay lands on the same reply"
    assert conversation.messages.filter(content="Only once, please").count() == 1
    assert len(fake.chat_requests()) == 1
    replayed_json = alice_client.post(reverse("chat:send", args=[conversation.pk]), data, **JSON)
    assert replayed_json.status_code == 200
    assert replayed_json.json()["reply"] == Message.objects.get(role="assistant").pk
    assert len(fake.chat_requests()) == 1
    fresh = alice_client.post(reverse("chat:send", args=[conversation.pk]), {**data, "client_id": "ffffeeeeddddcccc"})
    assert fresh.status_code == 302 and len(fake.chat_requests()) == 2


def test_a_replayed_new_chat_opens_the_chat_it_made(alice_client, fake):
    data = {"text": "A new chat", "model": "gpt-4o-mini", "client_id": "0123456789abcdef"}
    first = alice_client.post(reverse("chat:start"), data)
    again = alice_client.post(reverse("chat:start"), data)
    assert Conversation.objects.count() == 1
    assert again["Location"].split("#")[0] == first["Location"].split("#")[0]


def test_state_changes_need_the_csrf_token(alice, conversation, fake):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    for url in [
        reverse("chat:send", args=[conversation.pk]),
        reverse("chat:start"),
        reverse("chat:settings", args=[conversation.pk]),
        reverse("chat:delete", args=[conversation.pk]),
    ]:
        response = client.post(url, {"text": "hi", "model": "gpt-4o-mini"}, HTTP_ACCEPT="text/event-stream")
        assert response.status_code == 403, url
    assert not fake.chat_requests()
    assert Conversation.objects.filter(pk=conversation.pk).exists()


# --- Keys stay secret ----------------------------------------------------------------------------------

PERSONAL_KEY = "sk-personal-SECRET-9876-abcdef"


@pytest.mark.urls("tests.probe_urls")
def test_no_key_appears_in_any_page_header_log_or_error(owned, alice, fake, caplog, settings):
    caplog.set_level(logging.DEBUG)
    site = Credential(name="site")
    site.set_key(TEST_KEY)
    site.save()
    personal = Credential(user=alice, name="personal")
    personal.set_key(PERSONAL_KEY)
    personal.save()
    root = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    root.user_permissions.add(Permission.objects.get(codename="read_message_content"))
    as_alice, as_root = Client(raise_request_exception=False), Client(raise_request_exception=False)
    as_alice.force_login(alice)
    as_root.force_login(root)
    bodies: list[str] = []

    def keep(response) -> None:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        bodies.append(content.decode(errors="replace") + repr(response.headers) + repr(response.cookies))

    # A failure whose upstream message echoes the key back, and the pages after it.
    fake.script("echo-key")
    keep(as_alice.post(reverse("chat:send", args=[owned["conversation"]]), {"text": "Hi"}))
    visited = 0
    for name, route in every_url_pattern():
        if name in ("logout", "admin:logout"):
            continue
        if is_admin(name, route):
            visitor, pk = as_root, owned["conversation"]
        else:
            visitor, pk = as_alice, owned["message"] if name in OWNED_MESSAGE else owned["conversation"]
        keep(visitor.get(url_for(name, route, {"pk": pk})))
        visited += 1
    for model in ("aitre/credential", "chat/conversation", "usage/usagerecord", "chat/contentaccess"):
        for obj_id in (site.pk, personal.pk, owned["conversation"]):
            keep(as_root.get(f"/admin/{model}/{obj_id}/change/"))
    assert as_root.get(f"/admin/aitre/credential/{site.pk}/change/").status_code == 200
    server_error = as_alice.get("/__probe__/500")
    assert server_error.status_code == 500
    keep(server_error)

    assert visited > 60
    everything = "\n".join(bodies) + "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    for secret in (TEST_KEY, PERSONAL_KEY, TEST_KEY[-12:], PERSONAL_KEY[-12:]):
        assert secret not in everything
    assert PERSONAL_KEY[-4:] in everything, "the masked form is shown, so the test did look at the key pages"


# --- A title is content -------------------------------------------------------------------------

TITLE_MARKER = "Zanzibar7731"


def crawl_admin(client: Client, limit: int = 600) -> dict[str, str]:
    """Every admin page reachable by links from the index (changelists, change, history and delete pages, filters)."""
    seen: dict[str, str] = {}
    queue = ["/admin/"]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        seen[url] = body.decode(errors="replace")
        for href in re.findall(r'href="([^"#]+)"', seen[url]):
            link = urljoin(url, href.replace("&amp;", "&"))
            if not link.startswith("/admin/") or "logout" in link or "format=csv" in link or link in seen:
                continue
            queue.append(link)
    return seen


def test_no_admin_page_shows_a_title_to_an_admin_without_the_permission(alice, alice_client, fake, superuser_client):
    alice_client.post(reverse("chat:start"), {"text": f"My {TITLE_MARKER} plans for the year"})
    conversation = Conversation.objects.get()
    assert TITLE_MARKER in conversation.title, "the automatic title is made of the first message"
    reader = User.objects.create_user("reader", is_staff=True)
    reader.user_permissions.add(
        *Permission.objects.filter(codename__in=["read_message_content", "view_conversation", "view_message"])
    )
    as_reader = Client()
    as_reader.force_login(reader)
    transcript = as_reader.get(reverse("admin:chat_conversation_transcript", args=[conversation.pk]))
    assert TITLE_MARKER in transcript.content.decode()

    client, _ = superuser_client
    pages = crawl_admin(client)
    assert len(pages) > 100, "the crawl reached the admin's pages"
    assert any(f"/admin/chat/conversation/{conversation.pk}/change/" in url for url in pages)
    assert any("usagerecord/dashboard/" in url and "user=alice" in url for url in pages), "the drill-down too"
    leaking = [url for url, body in pages.items() if TITLE_MARKER in body]
    assert leaking == [], "a title is content"
    for url in ["/admin/chat/conversation/", "/admin/chat/contentaccess/", "/admin/usage/usagerecord/"]:
        found = client.get(url, {"q": TITLE_MARKER}).content.decode()
        assert f"Conversation #{conversation.pk}" not in found, "nor can it be found by searching"
    # Granted the permission, the title is there to read, and to search.
    listing = as_reader.get("/admin/chat/conversation/", {"q": TITLE_MARKER}).content.decode()
    assert f"My {TITLE_MARKER} plans" in listing
