"""Search by words and by meaning, together, on the database the suite runs on, against the fake API."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from chat.models import Conversation, Message
from search import embedding, engine, indexing
from search.models import Passage, SearchSettings
from tests.helpers import run_concurrently, run_jobs
from usage.models import UsageRecord

from .fixtures import (
    CAR_ANSWER,
    CAR_QUESTION,
    CHINESE_ANSWER,
    CHINESE_QUESTION,
    PASTA_ANSWER,
    WHALE_EXACT,
    alices_history,
    conversation_of,
)


def texts(results: engine.Results) -> list[str]:
    return [r.passage.text for r in results.items]


def embed_all(owner) -> int:
    return embedding.embed_pending(owner.pk)


# --- By words ----------------------------------------------------------------------------------


def test_words_are_found_by_prefix_and_stem_and_every_word_is_required(alice):
    alices_history(alice)
    assert texts(engine.search(alice, "mechan", "words")) == [CAR_ANSWER]  # a prefix
    assert texts(engine.search(alice, "accelerating", "words")) == [CAR_QUESTION]  # a stem
    assert texts(engine.search(alice, "spaghetti garlic", "words")) == [PASTA_ANSWER]
    assert texts(engine.search(alice, "spaghetti mechanic", "words")) == []
    assert engine.search(alice, "", "words").items == []


def test_an_exact_phrase_ranks_first_by_words(alice):
    alices_history(alice)
    found = texts(engine.search(alice, "blue whale song", "words"))
    assert found[0] == WHALE_EXACT
    assert len(found) == 2  # the other has the words apart


def test_a_chinese_phrase_is_found_by_words(alice):
    alices_history(alice)
    assert texts(engine.search(alice, "发动机支架", "words")) == [CHINESE_ANSWER]
    # A word inside a sentence, in both messages; and one character alone.
    assert set(texts(engine.search(alice, "发动机", "words"))) == {CHINESE_QUESTION, CHINESE_ANSWER}
    assert CHINESE_ANSWER in texts(engine.search(alice, "修", "words"))
    # Typed without spaces, its words need not sit side by side (a dictionary would know where they part).
    assert texts(engine.search(alice, "支架发动", "words")) == [CHINESE_ANSWER]
    assert texts(engine.search(alice, "支架猫狗", "words")) == []  # every character is required


def test_the_match_is_marked_in_the_result_and_the_text_escaped(alice):
    conversation_of(alice, "Markup", "Is <b>bold</b> allowed in a tooltip?", "Only as text.")
    [result] = engine.search(alice, "tooltip", "words").items
    assert "<mark>tooltip</mark>" in result.snippet
    assert "&lt;b&gt;bold&lt;/b&gt;" in result.snippet and "<b>" not in result.snippet


def test_a_title_is_found_and_follows_renames(alice):
    conversation, _ = conversation_of(alice, "Holiday planning", "Where to?", "Lisbon.")
    assert [r.passage.kind for r in engine.search(alice, "holiday", "words").items] == ["title"]
    conversation.touch(title="Winter break")
    indexing.capture_title(conversation)
    assert engine.search(alice, "holiday", "words").items == []
    assert len(engine.search(alice, "winter", "words").items) == 1


@pytest.mark.django_db(transaction=True)
def test_a_title_written_by_several_at_once_is_one_passage_and_nobody_fails(alice):
    """A new chat answered 500 when its reply and the worker's sweep both wrote the title (one_title_passage)."""
    conversation = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Lighthouse keepers")
    start, failures = threading.Barrier(6), []

    def write() -> None:
        start.wait(timeout=10)
        try:
            indexing.capture_title(Conversation.objects.get(pk=conversation.pk))
        except Exception as exc:  # collected: an exception in a thread would go unseen
            failures.append(exc)

    run_concurrently(write, 6)
    assert failures == []
    assert list(Passage.objects.filter(kind="title").values_list("text", flat=True)) == ["Lighthouse keepers"]


def test_operators_typed_in_the_box_are_words_not_syntax(alice):
    alices_history(alice)
    for raw in ['"unbalanced', "spaghetti OR NOT", "a:* & !b", "NEAR(x y)", "'); DROP TABLE x; --", "*", "^"]:
        engine.search(alice, raw, "words")  # no syntax error reaches the user


# --- By meaning --------------------------------------------------------------------------------


def test_a_question_in_other_words_is_found_by_meaning(alice, fake, embedding_prices):
    history = alices_history(alice)
    assert embed_all(alice) == Passage.objects.count()
    # The answer, remembered in words it never used: words find nothing, meaning finds it.
    assert engine.search(alice, "engine noise fixed at the garage", "words").items == []
    found = engine.search(alice, "engine noise fixed at the garage", "meaning").items
    assert found[0].passage.text == CAR_ANSWER
    # The question too; and the pasta is not about cars.
    found = engine.search(alice, "car noise", "meaning").items
    assert CAR_QUESTION in [r.passage.text for r in found[:2]]
    assert PASTA_ANSWER not in [r.passage.text for r in found]
    # In Chinese, across languages: a question about a car's repair finds both car conversations.
    found = engine.search(alice, "车子维修", "meaning").items
    assert found[0].passage.conversation == history["chinese"]
    assert history["car"] in {r.passage.conversation for r in found}


def test_both_rankings_are_fused(alice, fake, embedding_prices):
    alices_history(alice)
    embed_all(alice)
    results = engine.search(alice, "mechanic replace motor", "all")
    top = results.items[0]
    assert top.passage.text == CAR_ANSWER and top.by_words and top.by_meaning
    assert top.score > 1 / (engine.RRF_K + 1)  # more than the best of one ranking alone
    assert engine.fuse([1, 2, 3], [3, 1]) == [
        (1, pytest.approx(1 / 61 + 1 / 62)),
        (3, pytest.approx(1 / 63 + 1 / 61)),
        (2, pytest.approx(1 / 62)),
    ]


def test_embedding_goes_in_batches_and_is_recorded_as_the_owners(alice, fake, embedding_prices):
    SearchSettings.objects.create(batch_size=3)
    alices_history(alice)
    total = Passage.objects.count()
    assert embed_all(alice) == total
    calls = fake.embedding_requests()
    assert [len(call.body["input"]) for call in calls] == [3] * (total // 3) + ([total % 3] if total % 3 else [])
    assert all(call.body["model"] == "text-embedding-3-large" and call.body["dimensions"] == 256 for call in calls)
    records = UsageRecord.objects.filter(kind="embedding")
    assert records.count() == len(calls) and {r.user for r in records} == {alice}
    assert {r.variant for r in records} == {"indexing"}
    tokens = sum(r.prompt_tokens for r in records)
    assert sum(r.cost for r in records) == (Decimal("0.13") * tokens / 1_000_000).quantize(Decimal("1e-10"))
    # The vectors are float32, of the length asked for.
    passage = Passage.objects.first()
    assert passage.as_vector().shape == (256,) and len(passage.vector) == 256 * 4
    # A search's own call is the user's too, once for the same words.
    engine.search(alice, "car noise", "meaning")
    engine.search(alice, "car noise", "meaning")
    assert UsageRecord.objects.filter(kind="embedding", variant="query").count() == 1


def test_rate_limits_are_waited_out_and_a_spent_quota_stops_indexing(alice, fake, embedding_prices):
    alices_history(alice)
    fake.state.embedding_script = ["429"]
    assert embed_all(alice) == Passage.objects.count()
    assert len(fake.embedding_requests()) == 2
    calls = fake.embedding_requests()
    assert calls[1].started - calls[0].started >= 0.9  # Retry-After: 1
    assert UsageRecord.objects.filter(kind="embedding").count() == 1  # the 429 cost nothing

    conversation_of(alice, "More", "Another question about taxes", "VAT is due quarterly.")
    fake.state.embedding_script = ["quota"]
    assert embed_all(alice) == 0
    waiting = Passage.objects.waiting_for(embedding.embedding_model())
    assert waiting.count() == 3 and not waiting.filter(claimed_until__isnull=False).exists()
    # Found by words meanwhile; embedded on a later round.
    assert len(engine.search(alice, "quarterly", "words").items) == 1
    assert embed_all(alice) == 3


def test_a_new_model_re_indexes_and_vectors_of_two_models_are_never_compared(alice, fake, embedding_prices):
    alices_history(alice)
    embed_all(alice)
    assert engine.search(alice, "car noise", "meaning").items
    SearchSettings.objects.create(embedding_model="text-embedding-3-small", dimensions=128)
    embedding.forget_settings()
    # Nothing is embedded with the new model yet: meaning finds nothing, words still work.
    assert engine.search(alice, "car noise", "meaning").items == []
    assert engine.search(alice, "mechanic", "words").items
    embedding.reindex()
    run_jobs()
    assert Passage.objects.embedded_with("text-embedding-3-small").count() == Passage.objects.count()
    found = engine.search(alice, "car noise", "meaning").items
    assert CAR_QUESTION in [r.passage.text for r in found[:2]]
    assert fake.embedding_requests()[-1].body["dimensions"] == 128


def test_deleting_a_conversation_deletes_its_passages_and_vectors(alice, alice_client, fake, embedding_prices):
    history = alices_history(alice)
    embed_all(alice)
    engine.search(alice, "car noise", "meaning")  # the vectors are now kept in this process
    alice_client.post(reverse("chat:delete", args=[history["car"].pk]))
    assert not Passage.objects.filter(conversation_id=history["car"].pk).exists()
    assert engine.search(alice, "mechanic", "words").items == []
    assert all(r.passage.conversation_id != history["car"].pk for r in engine.search(alice, "car noise").items)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM search_passage_fts WHERE search_passage_fts MATCH 'mechanic'")
            assert cursor.fetchone()[0] == 0


# --- Only one's own -------------------------------------------------------------------------


def test_bob_never_finds_alices_messages(alice, bob, fake, embedding_prices):
    alices_history(alice)
    conversation_of(bob, "Bob's car", "My car engine is noisy.", "Check the motor mount.")
    embed_all(alice)
    embed_all(bob)
    for query in ["mechanic", "motor mount", "car noise", "发动机", "spaghetti", "blue whale song", "a"]:
        for mode in engine.MODES:
            found = engine.search(bob, query, mode).items
            assert all(r.passage.owner_id == bob.pk for r in found), (query, mode)
    assert texts(engine.search(bob, "motor mount", "words")) == ["Check the motor mount."]


def test_a_stranger_cannot_open_a_result(alice, bob_client):
    alices_history(alice)
    passage = Passage.objects.first()
    assert bob_client.get(reverse("search:open", args=[passage.pk])).status_code == 404


# --- From chat to search -------------------------------------------------------------------


def test_a_sent_message_and_its_reply_are_found_at_once_and_embedded_by_the_worker(
    alice, alice_client, conversation, fake, embedding_prices, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("chat:send", args=[conversation.pk]), {"text": "Which lighthouse is tallest?"})
    question, reply = conversation.messages.order_by("pk")
    assert set(Passage.objects.filter(kind="message").values_list("message_id", flat=True)) == {question.pk, reply.pk}
    assert Passage.objects.get(kind="title").text == conversation.title
    # Found by words before any vector exists.
    assert texts(engine.search(alice, "lighthouse", "words")) == ["Which lighthouse is tallest?"]
    run_jobs()
    assert Passage.objects.embedded_with("text-embedding-3-large").count() == 3  # and the title


def test_a_result_opens_the_conversation_at_its_version(alice, alice_client, fake):
    conversation, (question, first) = conversation_of(alice, "Versions", "Name a colour", "Vermilion red.")
    second = Message.objects.create(conversation=conversation, parent=question, role="assistant", content="Teal.")
    indexing.capture([second], alice.pk)
    conversation.touch(current_leaf=second)
    [result] = engine.search(alice, "vermilion", "words").items
    response = alice_client.get(result.url)
    assert response.status_code == 302 and response["Location"].endswith(f"/c/{conversation.pk}/#m{first.pk}")
    conversation.refresh_from_db()
    assert conversation.current_leaf_id == first.pk
    page = alice_client.get(response["Location"]).content.decode()
    assert "Vermilion red." in page


def test_the_sweep_indexes_what_no_signal_reported(alice, conversation, fake):
    Message.objects.create(conversation=conversation, role="user", content="A message from before search existed")
    Message.objects.create(conversation=conversation, role="assistant", content="", status="pending")
    assert indexing.sweep() == 1
    assert indexing.sweep() == 0
    assert texts(engine.search(alice, "existed", "words")) == ["A message from before search existed"]


# --- The page --------------------------------------------------------------------------------------


def test_the_search_page(alice, alice_client, fake, embedding_prices):
    alices_history(alice)
    page = alice_client.get(reverse("search:page"), {"q": "mechanic"}).content.decode()
    assert "<mark>mechanic</mark>" in page and "Noise on the hill" in page
    assert "0 of" in page  # nothing embedded yet: said, and words still found it
    assert alice_client.get(reverse("search:page"), {"q": "x" * 5000}).status_code == 400
    fake.state.embedding_script = ["500"]
    page = alice_client.get(reverse("search:page"), {"q": "car noise"}).content.decode()
    assert "Search by meaning is unavailable right now" in page
    assert Conversation.objects.count() == 4


def test_the_sidebar_searches_with_the_same_engine(alice, alice_client):
    alices_history(alice)
    home = alice_client.get(reverse("chat:home")).content.decode()
    assert f'action="{reverse("search:page")}"' in home


# --- The admin's side ----------------------------------------------------------------------------


def test_the_admin_changes_the_model_and_everything_is_re_embedded(alice, fake, embedding_prices, admin_client):
    alices_history(alice)
    embed_all(alice)
    total = Passage.objects.count()
    page = admin_client.get(reverse("admin:search_searchsettings_add")).content.decode()
    assert "text-embedding-3-small" in page and f"{total} / {total} (text-embedding-3-large)" in page
    response = admin_client.post(
        reverse("admin:search_searchsettings_add"),
        {"embedding_model": "text-embedding-3-small", "dimensions": "64", "batch_size": "50"},
    )
    assert response.status_code == 302
    assert (
        admin_client.post(
            reverse("admin:search_searchsettings_add"), {"embedding_model": "gpt-4o-mini", "batch_size": "5"}
        ).status_code
        == 403
    )  # one row only; and a chat model would be refused anyway
    run_jobs()
    assert Passage.objects.embedded_with("text-embedding-3-small").count() == Passage.objects.count()
    assert {len(p.vector) for p in Passage.objects.all()} == {64 * 4}
    listing = admin_client.get(reverse("admin:search_searchsettings_changelist")).content.decode()
    assert f"{total} / {total} (text-embedding-3-small)" in listing
    # What indexing cost, both models' calls: the admin reads it beside the progress.
    spent = UsageRecord.objects.filter(kind="embedding", variant="indexing")
    tokens = sum(r.prompt_tokens for r in spent)
    assert tokens and f"{sum(r.cost for r in spent):.4f} ({tokens:,} tokens)" in listing


def test_the_admin_cannot_pick_a_model_without_embeddings(fake, admin_client):
    response = admin_client.post(
        reverse("admin:search_searchsettings_add"), {"embedding_model": "gpt-4o-mini", "batch_size": "5"}
    )
    assert response.status_code == 200 and not SearchSettings.objects.exists()


def test_the_command_indexes_an_old_history(alice, conversation, fake, embedding_prices):
    from io import StringIO

    from django.core.management import call_command

    for i in range(5):
        Message.objects.create(conversation=conversation, role="user", content=f"An old message about kites {i}")
    out = StringIO()
    call_command("reindex_search", "--now", stdout=out)
    assert "5 passages added" in out.getvalue() and "6 passages embedded with text-embedding-3-large" in out.getvalue()
    assert len(engine.search(alice, "kites", "words").items) == 5


def test_a_new_vector_length_re_indexes_and_two_lengths_are_never_compared(alice, fake, embedding_prices):
    alices_history(alice)
    embed_all(alice)
    assert engine.search(alice, "car noise", "meaning").items  # 256 floats a vector, kept in this process
    SearchSettings.objects.create(dimensions=64)  # the same model, shorter vectors
    embedding.forget_settings()
    conversation_of(alice, "More", "A new question about my automobile engine", "Ask a mechanic.")
    assert engine.search(alice, "car noise", "meaning").items == []  # nothing of 64 floats yet
    assert embed_all(alice) == Passage.objects.count()  # every passage again, not only the new ones
    assert {len(p.vector) for p in Passage.objects.all()} == {64 * 4}
    found = [r.passage.text for r in engine.search(alice, "car noise", "meaning").items]
    assert CAR_QUESTION in found[:3]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index: which entries a query reads")
def test_on_sqlite_a_search_reads_only_the_searchers_entries(alice, bob):
    """An empty account searching "the" read every account's entries (60 ms at 60,000 passages)."""
    conversation_of(alice, "Many", *[f"the theory of the thing number {n}" for n in range(300)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM search_passage_fts WHERE search_passage_fts MATCH %s",
            [f'owner_id : "{bob.pk}" AND terms : ("the"*)'],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM search_passage_fts WHERE search_passage_fts MATCH %s",
            [f'owner_id : "{alice.pk}" AND terms : ("the"*)'],
        )
        assert cursor.fetchone()[0] == 300
    assert engine.search(bob, "the", "words").items == []
    assert len(engine.search(alice, "the", "words", per_page=500).items) == 200
    # An owner's number typed as a word is a word, never the owner column.
    assert engine.search(bob, str(alice.pk), "words").items == []
