"""Content negotiation and refusals, answered once for every view (lib.http)."""

import json as jsonlib

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from lib.http import refuse, wants_json, wants_stream
from lib.refusals import Refusal
from usage.refusal import Refused

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "json", "stream"),
    [
        (None, False, False),
        ("*/*", False, False),  # fetch()'s default: a page, not a script's JSON
        (BROWSER, False, False),
        ("application/json", True, False),
        ("text/event-stream, application/json", True, True),
        ("text/event-stream", True, True),
    ],
)
def test_what_the_caller_asks_for(accept, json, stream):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    request = RequestFactory().post("/", **headers)
    assert (wants_json(request), wants_stream(request)) == (json, stream)


def _page(status: int) -> HttpResponse:
    return HttpResponse("the page, the text kept", status=status)


def test_a_script_gets_the_refusal_as_json_with_when_to_retry():
    request = RequestFactory().post("/", HTTP_ACCEPT="application/json")
    response = refuse(request, Refused("Too fast.", retry_after=12), _page)
    assert response.status_code == 429 and response["Retry-After"] == "12"
    assert jsonlib.loads(response.content) == {"error": "Too fast."}


def test_a_page_gets_the_page_with_the_status_and_the_message_flashed(rf):
    from django.contrib.messages import get_messages
    from django.contrib.messages.storage.cookie import CookieStorage

    request = rf.post("/")
    request._messages = CookieStorage(request)
    response = refuse(request, Refusal("Wait for the reply to finish.", status=409), _page)
    assert response.status_code == 409 and response.content == b"the page, the text kept"
    assert "Retry-After" not in response
    assert [str(m) for m in get_messages(request)] == ["Wait for the reply to finish."]
