"""An exception report (the 500 e-mail, Sentry-style traceback locals) never carries the key."""

import sys

import pytest
import requests
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from aitre.client import AitreClient
from aitre.credentials import client_for
from tests.conftest import TEST_KEY


class ExplodingAdapter(requests.adapters.HTTPAdapter):
    """Fails deep inside requests, with the prepared headers in its frame."""

    def send(self, request, **kwargs):
        headers = dict(request.headers)
        raise TypeError(f"unexpected failure with {len(headers)} headers")


def report_of_failing_call(client: AitreClient) -> str:
    client.session = requests.Session()  # not the process's shared one
    client.session.mount("http://", ExplodingAdapter())
    try:
        client.stream_chat({"model": "m", "messages": []})
    except TypeError:
        reporter = ExceptionReporter(RequestFactory().get("/"), *sys.exc_info())
        return reporter.get_traceback_text() + reporter.get_traceback_html()
    pytest.fail("the call did not fail")


def test_a_report_from_inside_the_client_does_not_show_the_key(alice, fake):
    report = report_of_failing_call(client_for(alice))
    assert "Authorization" in report, "the report does show the frames' variables"
    assert TEST_KEY not in report


def test_a_stream_object_in_a_frame_does_not_show_the_key(alice, fake):
    stream = client_for(alice).stream_chat({"model": "m", "messages": [], "max_tokens": 5})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        reporter = ExceptionReporter(RequestFactory().get("/"), *sys.exc_info())
        report = reporter.get_traceback_html()
    stream.cancel()
    assert "ChatStream(response=" in report, "the report does show the stream object"
    assert TEST_KEY not in report
