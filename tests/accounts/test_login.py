"""Logging in: throttled per account and per address, passwords validated."""

from django.test import Client
from django.urls import reverse

from accounts.models import User


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


def test_the_login_page_is_branded_with_the_site_name_not_the_host(client, db, settings):
    settings.SITE_NAME = "Acme Assistant"
    page = client.get(reverse("login"), HTTP_HOST="testserver").content.decode()
    assert "<title>Log in · Acme Assistant</title>" in page
    assert '<a class="brand" href="/">Acme Assistant</a>' in page
    assert "testserver" not in page
