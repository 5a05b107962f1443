"""Fixtures for the usage tests."""

import pytest
from django.test import Client

from accounts.models import User


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", "root-password-1"))
    return client
