import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import User

ROOT = Path(__file__).resolve().parents[2]


def test_no_model_change_lacks_a_migration(db):
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DEBUG", "HTTPS", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
        },
        "DEBUG": "0",
        "SECRET_KEY": "k9#2vLq!x8Rz@4mWp7Yt$1nBc6Hd^3Jf*5Gs0Ae&Ku-production-like-secret",
        "ALLOWED_HOSTS": "chat.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_the_procfile_runs_gunicorn_with_the_repos_config_and_migrates_on_release():
    procfile = (ROOT / "Procfile").read_text()
    assert "release: python manage.py migrate --noinput" in procfile
    assert "web: gunicorn aitre_web.wsgi --config aitre_web/gunicorn.conf.py" in procfile


def test_ensure_admin_makes_the_first_admin_once(db, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "first-admin-password")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("first-admin-password")
    call_command("ensure_admin", stdout=out)
    assert User.objects.filter(is_superuser=True).count() == 1


@pytest.mark.parametrize(("signup", "status"), [("closed", 404), ("open", 200)])
def test_signup_follows_the_setting(client, db, settings, signup, status):
    settings.SIGNUP = signup
    assert client.get("/accounts/signup/").status_code == status


def test_open_signup_creates_and_logs_in(client, db, settings):
    settings.SIGNUP = "open"
    response = client.post(
        "/accounts/signup/",
        {
            "username": "dora",
            "email": "dora@example.org",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_password_change(alice_client, alice):
    response = alice_client.post(
        "/accounts/password/",
        {
            "old_password": "alice-password-1",
            "new_password1": "another-long-phrase-7",
            "new_password2": "another-long-phrase-7",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another-long-phrase-7")


def test_no_compression_middleware_holds_event_streams_back(settings):
    assert not any("GZip" in name for name in settings.MIDDLEWARE)
