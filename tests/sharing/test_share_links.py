"""
A conversation shared at an unguessable link: a snapshot of what was on
show, for anyone or only the signed-in, until it expires or is revoked; then
a 404 like any other. Visitors continue it in their own account.
"""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from chat.models import Conversation, Message
from sharing.models import ShareLink
from tests.helpers import branched_conversation, hostile_conversation
from usage.models import UsageRecord


def make_link(client, conversation, **options) -> ShareLink:
    data = {"audience": "anyone", "expires_in": "7"} | options
    response = client.post(f"/c/{conversation.pk}/share", data)
    assert response.status_code == 302, response.content
    link = ShareLink.objects.latest("pk")
    assert response["Location"] == f"/shares/#link-{link.pk}"
    return link


def test_a_link_shows_what_was_on_show_and_nothing_else(alice, alice_client, client):
    conversation = branched_conversation(alice)
    link = make_link(alice_client, conversation)
    assert len(link.token) >= 32
    assert link.expires_at == pytest.approx(timezone.now() + timedelta(days=7), abs=timedelta(seconds=30))
    # A message written after sharing is not in the link.
    Message.objects.create(
        conversation=conversation, parent=conversation.current_leaf, role="user", content="A later secret"
    )

    response = client.get(f"/s/{link.token}")
    assert response.status_code == 200
    page = response.content.decode()
    for shown in [
        "Which blue is the sky?",
        "Sky blue: <strong>cerulean</strong> at noon.",
        "And at dusk?",
        "Ultramarine",
    ]:
        assert shown in page
    for hidden in ["Cerulean, mostly.", "Viridian", "A later secret", "Answer as a painter.", "tokens", "csrf"]:
        assert hidden not in page
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert "<form" not in page and "<script" not in page, "nothing bound to a session, nothing to run"
    assert f'href="/s/{link.token}/continue"' in page
    link.refresh_from_db()
    assert link.views == 1 and link.last_viewed_at is not None


def test_the_system_prompt_only_when_the_owner_includes_it(alice, alice_client, client):
    conversation = branched_conversation(alice)
    link = make_link(alice_client, conversation, include_system_prompt="on")
    assert "Answer as a painter." in client.get(f"/s/{link.token}").content.decode()


def test_signed_in_only_links_send_visitors_to_log_in(alice, alice_client, bob_client, client):
    link = make_link(alice_client, branched_conversation(alice), audience="signed_in")
    response = client.get(f"/s/{link.token}")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/s/{link.token}"
    assert bob_client.get(f"/s/{link.token}").status_code == 200


def test_revoked_expired_and_unknown_links_are_the_same_404(alice, alice_client, client):
    conversation = branched_conversation(alice)
    revoked, expired, kept = (make_link(alice_client, conversation) for _ in range(3))
    assert alice_client.post(f"/shares/{revoked.pk}/revoke").status_code == 302
    assert "no longer opens" in alice_client.get("/shares/").content.decode()
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    def answer(visitor, path: str) -> tuple[int, str]:
        response = visitor.get(path)
        # The CSRF meta differs on every page, and the language switch carries the address back;
        # everything else must be the same.
        body = re.sub(
            r'<meta name="csrf-token"[^>]*>|<input type="hidden" name="csrfmiddlewaretoken"[^>]*>',
            "",
            response.content.decode(),
        )
        return response.status_code, re.sub(r"/s/[\w-]+", "/s/TOKEN", body)

    for link in (revoked, expired):
        assert answer(client, f"/s/{link.token}") == answer(client, "/s/" + "x" * 32)
        assert answer(alice_client, f"/s/{link.token}/continue") == answer(alice_client, f"/s/{'x' * 32}/continue")
        assert answer(client, f"/s/{link.token}")[0] == 404
    assert client.get(f"/s/{kept.token}").status_code == 200
    # Deleting the conversation takes its links down.
    conversation.delete()
    assert client.get(f"/s/{kept.token}").status_code == 404


def test_the_owner_lists_links_with_views_and_expiry(alice, alice_client, client, bob_client):
    conversation = branched_conversation(alice)
    link = make_link(alice_client, conversation, expires_in="")
    other = make_link(alice_client, conversation, audience="signed_in", expires_in="1")
    client.get(f"/s/{link.token}")
    client.get(f"/s/{link.token}")
    alice_client.post(f"/shares/{other.pk}/revoke")
    page = alice_client.get("/shares/").content.decode()
    assert f"/s/{link.token}" in page and f"/s/{other.token}" not in page, "a revoked link's address is not offered"
    assert "Never" in page and "Revoked" in page
    assert "<dd>2</dd>" in page
    assert "Paint" not in bob_client.get("/shares/").content.decode()


def test_bad_choices_are_a_400_and_make_nothing(alice, alice_client):
    conversation = branched_conversation(alice)
    for data in ({"audience": "everyone"}, {"audience": "anyone", "expires_in": "365"}):
        assert alice_client.post(f"/c/{conversation.pk}/share", data).status_code == 400
    assert not ShareLink.objects.exists()


def test_continue_this_chat_copies_it_after_signing_in(alice, alice_client, bob, client):
    conversation = branched_conversation(alice)
    link = make_link(alice_client, conversation, include_system_prompt="on")
    response = client.get(f"/s/{link.token}/continue")
    assert response["Location"] == f"/accounts/login/?next=/s/{link.token}/continue"
    visitor = Client()
    visitor.force_login(bob)
    assert "Copy it into my account" in visitor.get(f"/s/{link.token}/continue").content.decode()
    response = visitor.post(f"/s/{link.token}/continue")
    copy = Conversation.objects.get(owner=bob)
    assert response["Location"] == copy.get_absolute_url()
    thread = [m.content for m in copy.messages.order_by("pk")]
    assert thread == [
        "Which blue is the sky?",
        "Sky blue: **cerulean** at noon.",
        "And at dusk?",
        "Ultramarine, then indigo.",
    ]
    assert copy.current_leaf.content == "Ultramarine, then indigo."
    assert (copy.title, copy.model, copy.system_prompt) == ("Paint", "gpt-4o-mini", "Answer as a painter.")
    assert not copy.messages.filter(total_tokens__isnull=False).exists(), "none of the owner's usage"
    assert not UsageRecord.objects.exists()
    assert "Ultramarine" in visitor.get(copy.get_absolute_url()).content.decode()
    assert Conversation.objects.filter(owner=alice).count() == 1, "the original is untouched"


def test_hostile_text_is_shared_inert(alice, alice_client, client):
    conversation = hostile_conversation(alice)
    link = make_link(alice_client, conversation)
    page = client.get(f"/s/{link.token}").content.decode()
    tags, handlers = set(), []

    class Elements(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.add(tag)
            handlers.extend(name for name, _value in attrs if name.startswith("on"))

    Elements().feed(page)
    assert not tags & {"script", "iframe", "object", "embed", "svg", "math", "base", "form"}
    assert handlers == []


def test_admins_list_and_revoke_links(alice, alice_client, superuser_client, client):
    admin, _root = superuser_client
    link = make_link(alice_client, branched_conversation(alice))
    listing = admin.get("/admin/sharing/sharelink/")
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    assert "Which blue" not in listing.content.decode() and "Paint" not in listing.content.decode()
    response = admin.post("/admin/sharing/sharelink/", {"action": "revoke", "_selected_action": [link.pk]}, follow=True)
    assert "1 link revoked." in response.content.decode()
    assert client.get(f"/s/{link.token}").status_code == 404
