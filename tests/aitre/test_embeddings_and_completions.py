"""The client's embeddings and completions against the fake server's wire format, and the fake's own limits."""

import numpy as np
import pytest
import requests

from aitre.client import AitreClient, AitreError
from tests.fake_aitre.embeddings import vector

KEY = "sk-test-SECRETKEY-e2e-4321"


@pytest.fixture
def client(fake) -> AitreClient:
    return AitreClient(fake.base_url, KEY)


def post(fake, path: str, body: dict) -> requests.Response:
    return requests.post(f"{fake.base_url}{path}", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)


def test_vectors_come_back_in_order_normalized_and_meaningful(client, fake):
    texts = ["My car will not start", "The automobile engine fails", "A recipe for noodles", "我的汽车坏了"]
    embedded = client.embed("text-embedding-3-large", texts)
    assert [v.shape for v in embedded.vectors] == [(3072,)] * 4 and embedded.vectors[0].dtype == np.float32
    assert all(abs(float(np.linalg.norm(v)) - 1) < 1e-4 for v in embedded.vectors)
    car, engine, noodles, chinese_car = embedded.vectors
    assert car @ engine > 0.5 > car @ noodles and car @ chinese_car > 0.5
    assert embedded.usage is not None and embedded.usage.prompt_tokens > 0
    # The same text, the same vector, whatever the batch.
    again = client.embed("text-embedding-3-large", [texts[2]]).vectors[0]
    assert np.allclose(again, noodles)


def test_dimensions_are_sent_and_taken_only_by_models_that_shorten(client, fake):
    assert client.embed("text-embedding-3-small", ["hi"], dimensions=64).vectors[0].shape == (64,)
    with pytest.raises(AitreError) as refused:
        client.embed("text-embedding-ada-002", ["hi"], dimensions=64)
    assert refused.value.status == 400 and "dimensions" in refused.value.detail


def test_base64_vectors_are_read_as_float32(fake):
    data = post(fake, "/v1/embeddings", {"model": "m", "input": "car", "encoding_format": "base64"}).json()
    from aitre.client.embeddings import _vector

    assert np.allclose(_vector(data["data"][0]), vector("car", 1536), atol=1e-6)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"model": "m", "input": ["x"] * 2049}, "at most 2048"),
        ({"model": "m", "input": ["ok", ""]}, "empty string"),
        ({"model": "m", "input": "word " * 9000}, "maximum context length"),
        ({"model": "m", "input": 5}, "must be a string"),
        ({"input": "x"}, "model"),
    ],
)
def test_the_fake_keeps_the_endpoints_limits(fake, body, words):
    response = post(fake, "/v1/embeddings", body)
    assert response.status_code == 400 and words in response.json()["error"]["message"]


def test_the_client_refuses_what_the_endpoint_would(client):
    for inputs in ([], [""], ["x"] * 2049):
        with pytest.raises(ValueError):
            client.embed("m", inputs)


def test_a_missing_vector_or_an_error_is_an_aitre_error(client, fake):
    fake.state.embedding_script = ["short", "500", "429"]
    with pytest.raises(AitreError, match="could not read"):
        client.embed("m", ["a", "b"])
    with pytest.raises(AitreError) as failed:
        client.embed("m", ["a"])
    assert failed.value.status == 500
    with pytest.raises(AitreError) as limited:
        client.embed("m", ["a"])
    assert limited.value.status == 429 and limited.value.retry_after == 1


def test_completions_whole_and_streamed_say_the_same(client, fake):
    whole = client.complete({"model": "gpt-3.5-turbo-instruct", "prompt": "Say", "max_tokens": 4, "n": 2})
    assert [c.text for c in whole.choices] == [" and the lighthouse keeper", " and the lighthouse keeper"]
    assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 8
    stream = client.stream_completion({"model": "gpt-3.5-turbo-instruct", "prompt": "Say", "max_tokens": 4, "n": 2})
    assert "".join(stream) == whole.choices[0].text
    assert [c.text for c in stream.ordered()] == [c.text for c in whole.choices]
    assert stream.finish_reason == "length" and stream.usage.completion_tokens == 8
    raw = post(fake, "/v1/completions", {"model": "x", "prompt": "Say", "max_tokens": 2, "stream": True}).text
    assert '"object": "text_completion"' in raw and '"text": " and"' in raw and raw.rstrip().endswith("data: [DONE]")


def test_a_completion_cut_mid_stream_is_an_error_after_its_text(client, fake):
    stream = client.stream_completion({"model": "fake-cut", "prompt": "Say", "max_tokens": 10})
    pieces = []
    with pytest.raises(AitreError):
        for piece in stream:
            pieces.append(piece)
    assert "".join(pieces).startswith(" and")
