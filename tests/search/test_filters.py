"""The results page narrowed (date, model, pinned, archived) and paged; the sidebar's results as you type."""

from datetime import timedelta

from django.utils import timezone

from search import embedding, engine
from search.models import Passage

from .fixtures import CAR_ANSWER, CAR_QUESTION, alices_history, conversation_of


def texts(results: engine.Results) -> list[str]:
    return [r.passage.text for r in results.items]


def test_filters_narrow_by_date_model_pinned_and_archived(alice, alice_client):
    history = alices_history(alice)
    old, _ = conversation_of(alice, "Old car", "My old automobile needed a mechanic too.", "Long ago.")
    Passage.objects.filter(conversation=old).update(created_at=timezone.now() - timedelta(days=400))
    history["car"].touch(pinned=True)
    old.model = "gpt-4o"
    old.archived = True
    old.save()
    everything = {CAR_ANSWER, "My old automobile needed a mechanic too."}
    assert set(texts(engine.search(alice, "mechanic", "words"))) == everything
    since = (timezone.now() - timedelta(days=30)).date()
    assert texts(engine.search(alice, "mechanic", "words", filters=engine.Filters(since=since))) == [CAR_ANSWER]
    until = (timezone.now() - timedelta(days=300)).date()
    narrowed = engine.search(alice, "mechanic", "words", filters=engine.Filters(until=until))
    assert texts(narrowed) == ["My old automobile needed a mechanic too."]
    assert texts(engine.search(alice, "mechanic", "words", filters=engine.Filters(model="gpt-4o"))) == [
        "My old automobile needed a mechanic too."
    ]
    assert texts(engine.search(alice, "mechanic", "words", filters=engine.Filters(pinned=True))) == [CAR_ANSWER]
    assert texts(engine.search(alice, "mechanic", "words", filters=engine.Filters(archived="no"))) == [CAR_ANSWER]
    only = engine.search(alice, "mechanic", "words", filters=engine.Filters(archived="only"))
    assert texts(only) == ["My old automobile needed a mechanic too."]
    # The page takes them from its form, and keeps them in the form.
    page = alice_client.get("/search/", {"q": "mechanic", "mode": "words", "archived": "no", "pinned": "on"})
    body = page.content.decode()
    assert page.status_code == 200 and "motor mount" in body and "old automobile" not in body
    assert '<option value="no" selected>' in body and 'name="pinned" value="on" checked' in body


def test_filters_apply_to_meaning_too(alice, fake, embedding_prices):

    history = alices_history(alice)
    embedding.embed_pending(alice.pk)
    history["car"].archived = True
    history["car"].save()
    found = engine.search(alice, "engine noise fixed at the garage", "meaning", filters=engine.Filters(archived="no"))
    assert CAR_ANSWER not in texts(found) and CAR_QUESTION not in texts(found)


def test_bad_filters_are_a_clear_400(alice_client):
    for query in (
        {"q": "x", "since": "yesterday"},
        {"q": "x", "page": "0"},
        {"q": "x", "page": "many"},
        {"q": "x", "archived": "sometimes"},
        {"q": "x", "since": "2026-05-02", "until": "2026-05-01"},
        {"q": "x" * 2000},
    ):
        response = alice_client.get("/search/", query)
        assert response.status_code == 400, query
        body = response.content.decode()
        assert 'role="alert"' in body
        if len(query["q"]) < 10:
            assert 'value="x"' in body, "what was typed is kept"


def test_results_page_past_thirty(alice, alice_client):
    for number in range(45):
        conversation_of(alice, f"Trip {number}", f"Packing list number {number} for the lighthouse trip", "Noted.")
    first = engine.search(alice, "lighthouse", "words")
    second = engine.search(alice, "lighthouse", "words", page=2)
    assert (len(first.items), first.has_more, len(second.items), second.has_more) == (30, True, 15, False)
    assert not {r.passage.pk for r in first.items} & {r.passage.pk for r in second.items}
    page = alice_client.get("/search/", {"q": "lighthouse", "mode": "words"}).content.decode()
    assert "More results" in page and "page=2" in page
    page = alice_client.get("/search/", {"q": "lighthouse", "mode": "words", "page": 2}).content.decode()
    assert "Page 2:" in page and "Previous" in page and "More results" not in page


def test_the_sidebar_suggests_the_first_few_by_words_without_a_paid_call(alice, alice_client, fake, bob_client):
    alices_history(alice)
    answer = alice_client.get("/search/suggest", {"q": "spagh"}, HTTP_ACCEPT="application/json").json()
    assert [r["title"] for r in answer["results"]] == ["Dinner"]
    assert "<mark>spagh</mark>etti" in answer["results"][0]["snippet"]
    assert answer["page"] == "/search/?q=spagh"
    assert fake.embedding_requests() == [], "no embedding call a keystroke"
    assert bob_client.get("/search/suggest", {"q": "spagh"}).json()["results"] == []
    assert alice_client.get("/search/suggest", {"q": "x" * 2000}).status_code == 400
