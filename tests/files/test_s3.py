"""
The S3 path, against an S3-compatible server on 127.0.0.1 (moto's server
mode, a real HTTP server speaking the S3 protocol): files are written there,
the bucket stays private, and the owner is sent to a short-lived signed URL.
"""

import time
from collections.abc import Iterator

import boto3
import pytest
import requests
from django.core.files.storage import storages
from django.test import override_settings
from moto.server import ThreadedMotoServer

from files import store
from files.models import StoredFile
from tests.files.images import picture

BUCKET = "aitre-files"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    s3.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def on_s3(s3_endpoint, settings) -> Iterator[str]:
    options = {
        "bucket_name": BUCKET,
        "endpoint_url": s3_endpoint,
        "region_name": "us-east-1",
        "access_key": "test",
        "secret_key": "test",
        "addressing_style": "path",
        "signature_version": "s3v4",
        "querystring_auth": True,
        "querystring_expire": 120,
        "default_acl": None,
        "file_overwrite": False,
    }
    stores = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}}
    with override_settings(STORAGES=stores, FILES_SIGNED_URL_SECONDS=120):
        yield s3_endpoint


def test_a_kept_image_is_written_to_the_bucket(on_s3, alice):
    kept = store.keep_image(
        alice.pk, store.check_image(picture("JPEG"), "cat.jpg"), "cat.jpg", StoredFile.Source.UPLOAD
    )
    s3 = boto3.client(
        "s3", endpoint_url=on_s3, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {kept.blob.name, kept.thumbnail.name} <= keys
    assert kept.read() == s3.get_object(Bucket=BUCKET, Key=kept.blob.name)["Body"].read()


def test_the_owner_is_sent_to_a_signed_url_that_works_and_expires(on_s3, alice, alice_client, bob_client):
    kept = store.keep_image(
        alice.pk, store.check_image(picture("PNG"), "plan.png"), "plan.png", StoredFile.Source.UPLOAD
    )
    response = alice_client.get(kept.get_absolute_url())
    assert response.status_code == 302
    signed = response["Location"]
    assert signed.startswith(on_s3) and "X-Amz-Signature=" in signed and "X-Amz-Expires=120" in signed
    assert int(response["Cache-Control"].split("max-age=")[1]) < 120
    fetched = requests.get(signed, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == kept.read()
    assert fetched.headers["Content-Type"] == "image/png"
    # The bucket is private: the same object without the signature is refused.
    assert requests.get(signed.split("?")[0], timeout=10).status_code == 403
    # A stranger is not sent anywhere.
    assert bob_client.get(kept.get_absolute_url()).status_code == 404


def test_deleting_removes_the_objects_from_the_bucket(on_s3, alice):
    kept = store.keep_image(alice.pk, store.check_image(picture("PNG"), "a.png"), "a.png", StoredFile.Source.UPLOAD)
    storage = storages["default"]
    assert storage.exists(kept.blob.name)
    kept.delete_with_blobs()
    deadline = time.monotonic() + 5
    while storage.exists(kept.blob.name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not storage.exists(kept.blob.name)
