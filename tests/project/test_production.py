"""The Procfile's web command as it runs in production, behind a router."""

import json

import pytest
import requests

from tests.conftest import TEST_KEY
from tests.instances import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def test_production_smoke(start_instance, static_root):
    """
    The Procfile's web command as deployed (DEBUG=0, HTTPS behind a router,
    static files collected): the login page, a static file, a 404 and a
    server error, none of which tells a visitor anything about the server.
    """
    instance = start_instance(HTTPS="1", ERROR_PROBE="1", ALLOWED_HOSTS="127.0.0.1")
    router = {"X-Forwarded-Proto": "https"}

    plain = requests.get(instance.url + "/accounts/login/", allow_redirects=False, timeout=10)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")

    login = requests.get(instance.url + "/accounts/login/", headers=router, timeout=10)
    assert login.status_code == 200 and "Log in" in login.text
    headers = login.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in headers["Set-Cookie"] and "HttpOnly" not in headers["Set-Cookie"].split("csrftoken")[0]

    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["site/site.css"]
    assert hashed != "site/site.css"
    static = requests.get(f"{instance.url}/static/{hashed}", headers={**router, "Accept-Encoding": "gzip"}, timeout=10)
    assert static.status_code == 200 and "text/css" in static.headers["Content-Type"]
    assert "max-age=315360000" in static.headers["Cache-Control"] and "immutable" in static.headers["Cache-Control"]
    assert static.headers.get("Content-Encoding") == "gzip"
    # The chat's modules import each other by their hashed names.
    main = requests.get(f"{instance.url}/static/{manifest['chat/main.js']}", headers=router, timeout=10).text
    assert f'"./{manifest["chat/thread.js"].rsplit("/", 1)[1]}"' in main

    missing = requests.get(instance.url + "/no/such/page", headers=router, timeout=10)
    assert missing.status_code == 404

    failed = requests.get(instance.url + "/__probe__/500", headers=router, timeout=10)
    assert failed.status_code == 500 and "Something went wrong on our side" in failed.text

    for page in (login.text, missing.text, failed.text):
        for leak in ["Traceback", "DEBUG", "settings", "URLconf", "SECRET_KEY", TEST_KEY, "error probe", str(ROOT)]:
            assert leak not in page, leak
