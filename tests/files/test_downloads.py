"""Fetching a picture from the network is bounded: where it may go, how long it may take, how large it may be."""

import pytest

from files import downloads
from tests.fake_aitre import pictures


def test_it_fetches_a_picture_from_the_apis_own_host(fake):
    url = f"{fake.base_url}/fake/pictures/cat.png?expires=9999999999"
    data = downloads.fetch(url, max_bytes=1_000_000, trusted_origin=fake.base_url)
    assert data == pictures.draw("cat")


def test_the_api_key_is_never_sent_with_a_download(fake):
    url = f"{fake.base_url}/fake/pictures/cat.png?expires=9999999999"
    downloads.fetch(url, max_bytes=1_000_000, trusted_origin=fake.base_url)
    assert "Authorization" not in fake.state.requests[-1].headers


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/cat.png", "not https"),
        ("ftp://example.com/cat.png", "not a web address"),
        ("https://127.0.0.1/cat.png", "private"),
        ("https://10.0.0.7/cat.png", "private"),
        ("https://169.254.169.254/latest/meta-data/", "private"),
        ("https://[::1]/cat.png", "private"),
        ("https://localhost/cat.png", "private"),
        ("https://name.that.does.not.resolve.invalid/cat.png", "private or unknown"),
    ],
)
def test_it_refuses_addresses_it_may_not_reach(fake, url, reason):
    with pytest.raises(downloads.DownloadRefused) as refused:
        downloads.fetch(url, max_bytes=1_000_000, trusted_origin=fake.base_url)
    assert reason in str(refused.value)


def test_a_redirect_is_checked_again_where_it_leads(fake):
    url = f"{fake.base_url}/fake/redirect?to=https://169.254.169.254/latest/meta-data/"
    with pytest.raises(downloads.DownloadRefused) as refused:
        downloads.fetch(url, max_bytes=1_000_000, trusted_origin=fake.base_url)
    assert "private" in str(refused.value)


def test_a_redirect_within_the_api_host_is_followed(fake):
    target = f"{fake.base_url}/fake/pictures/dog.png?expires=9999999999"
    url = f"{fake.base_url}/fake/redirect?to={target}"
    assert downloads.fetch(url, max_bytes=1_000_000, trusted_origin=fake.base_url) == pictures.draw("dog")


def test_an_expired_link_says_so(fake):
    url = f"{fake.base_url}/fake/pictures/cat.png?expires=1"
    with pytest.raises(downloads.DownloadRefused) as refused:
        downloads.fetch(url, max_bytes=1_000_000, trusted_origin=fake.base_url)
    assert "403" in str(refused.value) and "expired" in str(refused.value)


def test_a_picture_over_the_size_cap_is_not_kept(fake):
    url = f"{fake.base_url}/fake/pictures/cat.png?expires=9999999999"
    with pytest.raises(downloads.DownloadRefused) as refused:
        downloads.fetch(url, max_bytes=100, trusted_origin=fake.base_url)
    assert "too large" in str(refused.value)
