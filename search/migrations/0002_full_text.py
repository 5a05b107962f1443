"""
Each database's full-text index over ``search_passage.terms`` (the model
does not know it: the search reads it with SQL, see search.words).

PostgreSQL: a stored generated tsvector column in SEARCH_LANGUAGE's
configuration, under a GIN index. SQLite: an FTS5 table with the porter
stemmer over unicode61, reading the passages (external content), kept in
step by triggers, so every insert, text change and delete (a conversation's
cascade included) reaches it in the same transaction.
"""

from django.conf import settings
from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE search_passage_fts USING fts5("
    "terms, content='search_passage', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_passage_fts_insert AFTER INSERT ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER search_passage_fts_delete AFTER DELETE ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(search_passage_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END",
    "CREATE TRIGGER search_passage_fts_update AFTER UPDATE OF terms ON search_passage BEGIN "
    "INSERT INTO search_passage_fts(search_passage_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
    "INSERT INTO search_passage_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "INSERT INTO search_passage_fts(search_passage_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS search_passage_fts_update",
    "DROP TRIGGER IF EXISTS search_passage_fts_delete",
    "DROP TRIGGER IF EXISTS search_passage_fts_insert",
    "DROP TABLE IF EXISTS search_passage_fts",
]


def postgres_forward(language: str) -> list[str]:
    return [
        "ALTER TABLE search_passage ADD COLUMN fts tsvector "
        f"GENERATED ALWAYS AS (to_tsvector('{language}'::regconfig, terms)) STORED",
        "CREATE INDEX search_passage_fts ON search_passage USING GIN (fts)",
    ]


POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS search_passage_fts", "ALTER TABLE search_passage DROP COLUMN IF EXISTS fts"]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement)


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARD)
    elif vendor == "postgresql":
        language = settings.SEARCH_LANGUAGE
        if not language.replace("_", "").isalnum():
            raise ValueError(f"SEARCH_LANGUAGE is not a text search configuration: {language!r}")
        _run(schema_editor, postgres_forward(language))


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_BACKWARD)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
