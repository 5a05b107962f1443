"""
Reading message text is a permission of its own, recorded every time; a
conversation's title is content too.
"""

import re
from urllib.parse import urljoin

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chat.models import ContentAccess, Conversation


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
