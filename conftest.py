"""
Test setup. The environment is set here, before Django reads its settings
(so no DJANGO_SETTINGS_MODULE in pytest's ini: it would be read first).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aitre_web.settings")
os.environ["SECRET_KEY"] = "test-secret-key-0123456789-not-for-production"
os.environ["DEBUG"] = "0"
os.environ["HTTPS"] = "0"
os.environ["SIGNUP"] = "closed"
# A known key, so tests can prove it never leaks. The base URL is the fake
# server's, set per test.
os.environ["AITRE_API_KEY"] = "sk-test-SECRETKEY-e2e-4321"
os.environ["AITRE_BASE_URL"] = ""
# No sweeper thread in the test process: tests settle replies themselves, and
# tests/test_processes.py turns it on in the instances it starts.
os.environ["CHAT_SWEEP_SECONDS"] = "0"
# Playwright's sync API runs an event loop in the test thread; Django's
# ORM refuses to run beside one unless told this is fine.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import django

# Set up now, so test modules and conftests may import models at the top.
django.setup()


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # No collectstatic in tests: plain storage, served by the live server.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
