"""Files are private: their owner opens them; a stranger or a visitor gets 404; admins need the audited permission."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from chat.models import ContentAccess
from files import store
from files.models import StoredFile
from tests.files.images import picture


@pytest.fixture
def kept(alice) -> StoredFile:
    image = store.check_image(picture("PNG", size=(900, 600)), "plan.png")
    return store.keep_image(alice.pk, image, "plan.png", StoredFile.Source.UPLOAD)


def test_the_owner_gets_the_bytes_private_and_revalidated(alice_client, kept):
    """Cached as immutable for a year, a deleted picture stayed in the owner's browser: it is asked again."""
    response = alice_client.get(kept.get_absolute_url())
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-cache"
    assert b"".join(response.streaming_content) == kept.read()
    again = alice_client.get(kept.get_absolute_url(), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_a_download_is_an_attachment_named_after_the_upload(alice_client, kept):
    response = alice_client.get(kept.get_absolute_url() + "?download")
    assert response["Content-Disposition"].startswith("attachment")
    assert 'filename="plan.png"' in response["Content-Disposition"]


def test_the_thumbnail_is_the_small_copy_made_when_it_was_kept(alice_client, kept):
    response = alice_client.get(kept.thumbnail_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert len(b"".join(response.streaming_content)) < kept.size


def test_the_storage_name_is_not_the_uploaded_name_and_not_guessable(kept):
    assert "plan" not in kept.blob.name
    assert kept.pk.hex in kept.blob.name


@pytest.mark.parametrize("suffix", ["", "/thumbnail"])
def test_a_stranger_and_a_visitor_get_404(bob_client, kept, suffix):
    url = kept.get_absolute_url() + suffix
    assert bob_client.get(url).status_code == 404
    assert Client().get(url).status_code == 404


def test_an_unknown_id_is_404_like_someone_elses(alice_client):
    assert alice_client.get("/files/00000000-0000-4000-8000-000000000000").status_code == 404


def test_a_superuser_without_the_permission_gets_404(superuser_client, kept):
    client, _root = superuser_client
    assert client.get(kept.get_absolute_url()).status_code == 404
    assert not ContentAccess.objects.exists()


def test_an_admin_with_the_audited_permission_may_open_it_and_it_is_recorded(superuser_client, kept, alice):
    client, root = superuser_client
    root.user_permissions.add(Permission.objects.get(codename="read_message_content"))
    response = client.get(kept.get_absolute_url())
    assert response.status_code == 200
    access = ContentAccess.objects.get()
    assert (access.reader, access.owner) == (root, alice)


def test_deleting_a_file_removes_its_bytes(kept):
    storage, names = kept.blob.storage, [kept.blob.name, kept.thumbnail.name]
    assert all(storage.exists(name) for name in names)
    kept.delete_with_blobs()
    assert not any(storage.exists(name) for name in names)
    assert not StoredFile.objects.exists()


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None), ("bytes=10-999999999", 10, None)],
)
def test_one_range_of_bytes_is_served_as_asked(alice_client, kept, header, first, last):
    whole = kept.read()
    response = alice_client.get(kept.get_absolute_url(), HTTP_RANGE=header)
    assert response.status_code == 206
    expected = whole[first : None if last is None else last + 1]
    assert b"".join(response.streaming_content) == expected
    start = first if first >= 0 else len(whole) + first
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(whole)}"
    assert response["Content-Length"] == str(len(expected))
    assert response["Cache-Control"] == "private, no-cache"


def test_a_range_outside_the_file_is_416_and_lists_are_answered_whole(alice_client, kept):
    size = len(kept.read())
    refused = alice_client.get(kept.get_absolute_url(), HTTP_RANGE=f"bytes={size}-")
    assert refused.status_code == 416 and refused["Content-Range"] == f"bytes */{size}"
    assert alice_client.get(kept.get_absolute_url(), HTTP_RANGE="bytes=9-3").status_code == 416
    whole = alice_client.get(kept.get_absolute_url(), HTTP_RANGE="bytes=0-1,5-9")
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == kept.read()


def test_a_stranger_asking_for_a_range_still_gets_404(bob_client, kept):
    assert bob_client.get(kept.get_absolute_url(), HTTP_RANGE="bytes=0-9").status_code == 404


def test_private_pages_are_not_stored_and_only_the_microphone_may_be_asked_for(alice_client, client, kept):
    page = alice_client.get(reverse("chat:home"))
    assert "no-store" in page["Cache-Control"] and "private" in page["Cache-Control"]
    assert page["Permissions-Policy"].split(", ").count("microphone=(self)") == 1
    assert "camera=()" in page["Permissions-Policy"] and "geolocation=()" in page["Permissions-Policy"]
    # What the view says holds: a file revalidates.
    assert alice_client.get(kept.get_absolute_url())["Cache-Control"] == "private, no-cache"
    assert "microphone=(self)" in client.get(reverse("login"))["Permissions-Policy"]
